package main

import (
	"flag"
	"strconv"
)

// counter is a flag that counts how often it is given, as tcpdump's -v,
// -x or -t (-vv is -v twice).
type counter struct{ n *int }

func (c counter) String() string {
	if c.n == nil {
		return "0"
	}
	return strconv.Itoa(*c.n)
}

func (c counter) Set(v string) error {
	b, err := strconv.ParseBool(v)
	switch {
	case err != nil:
		return err
	case b:
		*c.n++
	default:
		*c.n = 0
	}
	return nil
}

func (c counter) IsBoolFlag() bool { return true }

func countFlag(p *int) func(*flag.FlagSet, string) {
	return func(fs *flag.FlagSet, name string) { fs.Var(counter{p}, name, "") }
}
