package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// The command line is read as tcpdump's getopt_long reads it, not as Go's
// flag package would: one-letter flags after one dash, combined (-nni eth0,
// -vvv, -XX), their values attached or in the next word (-c10, -s 0);
// long flags after two dashes (--name, --name=value, --name value); flags
// anywhere among the other words (GNU getopt's permutation); "--" ends the
// flags. The flag table's rows are defined on a flag.FlagSet, which holds
// the values and says which flags take one (a flag.Value with IsBoolFlag
// takes none).

// errHelp is -h or --help.
var errHelp = flag.ErrHelp

// usageError is a mistake on the command line, printed as one line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// parseArgs sets the flags of fs from args and returns the other words in
// order. names maps each name a flag is known by (its aliases too) to the
// name it is defined under in fs.
func parseArgs(fs *flag.FlagSet, names map[string]string, args []string) (positional []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func(flagName string) (string, error) {
			if i+1 >= len(args) {
				return "", usagef("flag %s needs a value", flagName)
			}
			i++
			return args[i], nil
		}
		switch {
		case a == "--":
			return append(positional, args[i+1:]...), nil
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			def, ok := names[name]
			if !ok || len(name) < 2 {
				return nil, usagef("unknown flag --%s", name)
			}
			if def == "h" {
				return nil, errHelp
			}
			f := fs.Lookup(def)
			switch {
			case hasValue:
			case isBool(f):
				value = "true"
			default:
				if value, err = next("--" + name); err != nil {
					return nil, err
				}
			}
			if err := set(fs, f, "--"+name, value); err != nil {
				return nil, err
			}
		case len(a) > 1 && a[0] == '-':
			// One-letter flags, combined: each takes no value, but the
			// last may, written after it or in the next word.
			for j := 1; j < len(a); j++ {
				c := a[j : j+1]
				def, ok := names[c]
				if !ok {
					return nil, unknownShort(names, a, j)
				}
				if def == "h" {
					return nil, errHelp
				}
				f := fs.Lookup(def)
				if isBool(f) {
					if err := set(fs, f, "-"+c, "true"); err != nil {
						return nil, err
					}
					continue
				}
				value := a[j+1:]
				if value == "" {
					if value, err = next("-" + c); err != nil {
						return nil, err
					}
				}
				if err := set(fs, f, "-"+c, value); err != nil {
					return nil, err
				}
				break
			}
		default:
			positional = append(positional, a) // "-" too: a word
		}
	}
	return positional, nil
}

// unknownShort is the error for the letter at a[j], which is no flag. A
// long flag given one dash, as Go's flag package took them, is told so.
func unknownShort(names map[string]string, a string, j int) error {
	long, _, _ := strings.Cut(a[1:], "=")
	if _, ok := names[long]; ok && len(long) > 1 {
		return usagef("unknown flag -%c in %s: long flags take two dashes (--%s)", a[j], a, long)
	}
	return usagef("unknown flag -%c", a[j])
}

// isBool reports whether f takes no value.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// set gives f its value, the error in one line naming the flag as given.
func set(fs *flag.FlagSet, f *flag.Flag, given, value string) error {
	if err := fs.Set(f.Name, value); err != nil {
		// The flag package's numbers say "parse error" and "value out
		// of range".
		var ne *strconv.NumError
		switch {
		case errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange), err.Error() == "value out of range":
			err = errors.New("out of range")
		case isBool(f) && err.Error() == "parse error":
			err = errors.New("takes no value, or =true or =false")
		case errors.As(err, &ne), err.Error() == "parse error":
			err = errors.New("not a number")
		}
		return usagef("invalid value %q for %s: %v", value, given, err)
	}
	return nil
}
