// Command etcd is the real etcd server (etcdmain), built through the Go
// module proxy for envtest and for etcd backup tests.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
