// dockerfile-lint reads Dockerfiles with BuildKit's own parser and instruction checks (the code
// `docker build` runs before it builds anything), since no container engine runs where Atelier is
// developed and its Dockerfiles cannot be built there. It prints one line per problem: a parse
// error, an unknown instruction or flag, a parser warning (an empty continuation line) or a lint
// rule of BuildKit's, and exits 1 if there was any.
//
// Usage: dockerfile-lint FILE...
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func main() {
	problems := 0
	report := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		problems++
	}
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			report("%s: %v", path, err)
			continue
		}
		result, err := parser.Parse(bytes.NewReader(data))
		if err != nil {
			report("%s: %v", path, err)
			continue
		}
		for _, warning := range result.Warnings {
			report("%s:%d: %s", path, warning.Location.Start.Line, warning.Short)
		}
		lint := linter.New(&linter.Config{Warn: func(rule, _, _, message string, location []parser.Range) {
			line := 0
			if len(location) > 0 {
				line = location[0].Start.Line
			}
			report("%s:%d: %s: %s", path, line, rule, message)
		}})
		stages, _, err := instructions.Parse(result.AST, lint)
		if err != nil {
			report("%s: %v", path, err)
			continue
		}
		fmt.Printf("%s: %d stage(s)\n", path, len(stages))
	}
	if problems > 0 {
		os.Exit(1)
	}
}
