// Command schemadoc writes schemas/EVENTS.md (package schemadoc):
//
//	go run ./schemadoc/cmd/schemadoc -o ../schemas/EVENTS.md   (from pkg/)
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/sipbus/sipbus/pkg/schemadoc"
	"github.com/sipbus/sipbus/schemas"
)

func main() {
	out := flag.String("o", "", "file to write (required), e.g. ../schemas/EVENTS.md")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "schemadoc: -o: the file to write is required")
		os.Exit(2)
	}
	b, err := schemadoc.Generate(schemas.FS)
	if err == nil {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "schemadoc:", err)
		os.Exit(1)
	}
}
