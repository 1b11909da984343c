// Command ferretdb runs FerretDB v1 with its PostgreSQL handler, embedded as a
// library: FerretDB's own cmd/ferretdb refuses to start when built with a plain
// `go build`, the embedded API does not.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	postgresqlURL := flag.String(
		"postgresql-url",
		"postgres://127.0.0.1:5432/ferretdb?pool_max_conns=80",
		"PostgreSQL connection string (pool_max_conns sizes FerretDB's connection pool)",
	)
	flag.Parse()

	server, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Handler:       "postgresql",
		PostgreSQLURL: *postgresqlURL,
	})
	if err != nil {
		log.Fatalf("ferretdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Printf("ferretdb listening on %s, backed by PostgreSQL", *listen)
	if err := server.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatalf("ferretdb: %v", err)
	}
}
