package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}} {
		code, stdout, stderr := runCmd(t, args...)
		if code != 0 || !strings.HasPrefix(stdout, "usage: nexo-sandbox") || strings.Count(stdout, "usage:") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	if code, _, stderr := runCmd(t, "serve"); code != 2 || !strings.Contains(stderr, `unexpected argument "serve"`) {
		t.Errorf("an argument: exit %d, %q", code, stderr)
	}
	if code, stdout, _ := runCmd(t, "--version"); code != 0 || stdout != "nexo-sandbox "+version+"\n" {
		t.Errorf("--version: %d %q", code, stdout)
	}
}

// A taken console address is named once, with the way to choose another.
func TestBusyAddressNamedOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	for _, tc := range []struct {
		name    string
		viaMake string
		env     string
		args    []string
		hint    string
	}{
		{"flag", "", "", []string{"--addr", addr}, "run `nexo-sandbox --addr 127.0.0.1:"},
		{"make", "1", "", []string{"--addr", addr}, "run `make run ADDR=127.0.0.1:"},
		{"NEXO_SANDBOX_ADDR", "", addr, nil, "run `nexo-sandbox --addr 127.0.0.1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(viaMakeEnv, tc.viaMake)
			t.Setenv(addrEnv, tc.env)
			code, stdout, stderr := runCmd(t, append(tc.args, "--data", t.TempDir())...)
			if code != 1 || stdout != "" {
				t.Fatalf("exit %d, stdout %q", code, stdout)
			}
			want := "nexo-sandbox: console address " + addr + " is in use; " + tc.hint
			if !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q, want one line starting %q", stderr, want)
			}
			if n := strings.Count(stderr, addr); n != 1 {
				t.Errorf("the address is named %d times: %q", n, stderr)
			}
		})
	}
}
