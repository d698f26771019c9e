// Package shutdown keeps a stopping operator's log clean: a reconcile cut
// short because the manager is shutting down is not reported as an error.
package shutdown
