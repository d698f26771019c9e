// Package repository reconciles Repositories. For now it has one concern,
// their metrics: a Repository's snapshot count is exported from its status
// (also after the operator restarts), and a Repository that is gone takes
// its series with it, so that a deleted Repository's size and snapshot
// count do not stay exported (and alert) forever. The Repository's status is
// written by the sessions that back up into it (controllers/backupsession).
package repository
