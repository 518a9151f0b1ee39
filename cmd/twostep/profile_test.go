package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
)

func TestTheCPUProfileVariableMakesACommandWriteItsGoCPUProfile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	if code, _, stderr := runCmd(t, map[string]string{cpuProfileVar: path}, "lessons", "check"); code != 0 {
		t.Fatalf("lessons check exited %d: %s", code, stderr)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no profile written: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the profile is not gzipped as pprof writes it: %v", err)
	}
	pb, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// A CPU profile's string table names its sample types.
	for _, want := range []string{"samples", "cpu", "nanoseconds"} {
		if !bytes.Contains(pb, []byte(want)) {
			t.Errorf("the profile does not name %q: not a CPU profile", want)
		}
	}
}

func TestWithoutTheCPUProfileVariableNothingIsProfiled(t *testing.T) {
	if f := flag.Lookup("test.cpuprofile"); f != nil && f.Value.String() != "" {
		t.Skip("go test -cpuprofile holds the one CPU profile this test probes with")
	}
	stop, err := startCPUProfile(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// Only one CPU profile runs at a time: starting one succeeds only if
	// startCPUProfile left none running.
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		t.Fatalf("a CPU profile is running with the variable unset: %v", err)
	}
	pprof.StopCPUProfile()
}

func TestAnUnwritableCPUProfilePathIsAnError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", "cpu.pprof")
	if code, _, stderr := runCmd(t, map[string]string{cpuProfileVar: path}, "lessons", "check"); code == 0 {
		t.Fatalf("lessons check exited 0 with %s=%s; stderr: %s", cpuProfileVar, path, stderr)
	}
}
