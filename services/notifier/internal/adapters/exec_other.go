//go:build !unix

package adapters

import "os/exec"

// setGroup: without process groups, the context's end kills the program
// itself (exec.CommandContext's default).
func setGroup(*exec.Cmd) {}

func killGroup(*exec.Cmd) {}
