// Package volume holds the volume-backup and volume-restore Functions:
// restic backup of paths (a PVC mounted into the step in a cluster, or
// directories of this machine on the local engine) and restic restore of a
// snapshot back to where its files came from.
package volume
