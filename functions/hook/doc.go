// Package hook is the built-in Function behind every pre and post hook
// step: `stashflow fn hook exec|http-get|http-post|tcp [flags] [-- command]`.
//
// exec runs a command in the target's pod through the pods/exec API (the
// pod found from the AppBinding's Service selector — stashflow's or KubeDB's,
// as --target-api-version and internal/appcatalog.Get decide — or a pod that mounts the
// target PVC; the container by --container), or on this machine with
// --local (the local engine). http-get and http-post call a URL and succeed
// on a 2xx answer; an http-post body is a Go template filled with the
// session summary, as in Stash. tcp succeeds when a connection opens.
package hook
