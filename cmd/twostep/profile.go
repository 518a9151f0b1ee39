package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// cpuProfileVar names the file a command writes its Go CPU profile to,
// from start to exit, for the benchmarks (docs/BENCHMARKS.md). It is not
// a setting: unset, as in production, nothing is profiled.
const cpuProfileVar = "TWOSTEP_CPU_PROFILE"

// startCPUProfile starts the Go CPU profile that cpuProfileVar asks for and
// returns what stops it and writes the file out; with the variable unset
// it does nothing.
func startCPUProfile(getenv func(string) string) (stop func() error, err error) {
	path := getenv(cpuProfileVar)
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cpuProfileVar, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: start the CPU profile: %w", cpuProfileVar, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: write the CPU profile: %w", cpuProfileVar, err)
		}
		return nil
	}, nil
}
