// Command etcd is the etcd v3.6 server built inside this module: `go install`
// of etcd's own main module fails because its go.mod carries replace lines.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
