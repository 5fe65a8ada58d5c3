package main

import (
	"fmt"
	"io"
	"strings"
)

// The man page and the shell completions are written from the flag table,
// as -h is (make man writes them to docs/ and completions/; main_test
// checks that the committed ones are what the table makes).

const manDescription = `bpftop-cap captures packets with eBPF programs attached at tc (tcx or clsact) or XDP and shows them in a live view in the terminal, or writes them to a pcap or pcapng file (-w), or reads a saved capture (-r). The filter expression is a pcap-filter expression, as for tcpdump, and runs in the kernel.
Its flags are tcpdump's where tcpdump has one: one-letter flags combine (-nni eth0, -c10, -s0), long flags take two dashes (--snapshot-length=0), and "--" ends the flags.`

// roff escapes text for a man page line.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// writeMan writes bpftop-cap(1).
func writeMan(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p(`.TH BPFTOP\-CAP 1 "" "bpftop-cap" "User Commands"`)
	p(".SH NAME")
	p(`bpftop\-cap \- live packet inspector on eBPF, with tcpdump's flags`)
	p(".SH SYNOPSIS")
	for i, line := range strings.Split(strings.TrimSpace(usageHead[:strings.Index(usageHead, "\n\n")]), "\n") {
		if i > 0 {
			p(".br")
		}
		line = strings.TrimPrefix(strings.TrimSpace(line), "Usage: ")
		p("%s", roff(line))
	}
	p(".SH DESCRIPTION")
	for i, para := range strings.Split(manDescription, "\n") {
		if i > 0 {
			p(".PP")
		}
		p("%s", roff(para))
	}
	p(".SH OPTIONS")
	defs := table()
	for _, g := range groups {
		p(".SS %s", g)
		for _, d := range defs {
			if d.group != g {
				continue
			}
			var names []string
			for _, n := range d.names() {
				names = append(names, `\fB`+roff(dashed(n))+`\fR`)
			}
			head := strings.Join(names, ", ")
			if d.arg != "" {
				head += ` \fI` + roff(d.arg) + `\fR`
			}
			p(".TP")
			p("%s", head)
			p("%s", roff(d.usage))
		}
	}
	p(".SH EXAMPLES")
	p(".nf")
	for _, line := range strings.Split(strings.TrimSpace(usageExamples), "\n")[1:] {
		p("%s", roff(strings.TrimSpace(line)))
	}
	p(".fi")
	p(".SH SEE ALSO")
	p(`\fBtcpdump\fR(8), \fBpcap\-filter\fR(7), \fBcapinfos\fR(1)`)
}

// completionArgs says how a flag's value is completed: files, interfaces,
// users, one of the words of "a|b|c", or nothing.
func completionArg(arg string) (kind string, words []string) {
	switch {
	case arg == "FILE":
		return "file", nil
	case arg == "IFACE":
		return "iface", nil
	case arg == "USER":
		return "user", nil
	case strings.Contains(arg, "|"):
		return "words", strings.Split(arg, "|")
	}
	return "", nil
}

// writeCompletion writes the completion script for shell.
func writeCompletion(w io.Writer, shell string) error {
	switch shell {
	case "bash":
		writeBash(w)
	case "zsh":
		writeZsh(w)
	default:
		return fmt.Errorf("no completion for %q: bash or zsh", shell)
	}
	return nil
}

func writeBash(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	var all []string
	cases := map[string][]string{} // the case pattern's names, by action
	var order []string
	for _, d := range table() {
		if d.group == "" {
			continue
		}
		var names []string
		for _, n := range d.names() {
			names = append(names, dashed(n))
		}
		all = append(all, names...)
		if d.arg == "" {
			continue
		}
		kind, words := completionArg(d.arg)
		action := "return"
		switch kind {
		case "file":
			action = `COMPREPLY=($(compgen -f -- "$cur")); return`
		case "iface":
			action = `COMPREPLY=($(compgen -W "any $(ls /sys/class/net 2>/dev/null)" -- "$cur")); return`
		case "user":
			action = `COMPREPLY=($(compgen -u -- "$cur")); return`
		case "words":
			action = fmt.Sprintf(`COMPREPLY=($(compgen -W "%s" -- "$cur")); return`, strings.Join(words, " "))
		}
		if _, ok := cases[action]; !ok {
			order = append(order, action)
		}
		cases[action] = append(cases[action], names...)
	}
	p("# bash completion for bpftop-cap; written by bpftop-cap --completion bash (make man)")
	p("_bpftop_cap() {")
	p(`    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}`)
	p(`    case $prev in`)
	for _, action := range order {
		p("        %s) %s ;;", strings.Join(cases[action], "|"), action)
	}
	p(`    esac`)
	p(`    if [[ $cur == -* ]]; then`)
	p(`        COMPREPLY=($(compgen -W "%s" -- "$cur"))`, strings.Join(all, " "))
	p(`    fi`)
	p("}")
	p("complete -o default -F _bpftop_cap bpftop-cap")
}

// zshQuote escapes a description for _arguments' [...].
func zshQuote(s string) string {
	return strings.NewReplacer(`'`, `'\''`, `[`, `\[`, `]`, `\]`, `:`, `\:`).Replace(s)
}

func writeZsh(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("#compdef bpftop-cap")
	p("# zsh completion for bpftop-cap; written by bpftop-cap --completion zsh (make man)")
	p("_arguments -s -S \\")
	for _, d := range table() {
		if d.group == "" {
			continue
		}
		names := d.names()
		desc := zshQuote(d.usage)
		action := ""
		if d.arg != "" {
			kind, words := completionArg(d.arg)
			switch kind {
			case "file":
				action = ":" + strings.ToLower(d.arg) + ":_files"
			case "iface":
				action = ":interface:_net_interfaces"
			case "user":
				action = ":user:_users"
			case "words":
				action = ":" + strings.ToLower(d.arg) + ":(" + strings.Join(words, " ") + ")"
			default:
				action = ":" + strings.ToLower(d.arg) + ": "
			}
		}
		var specs []string
		for _, n := range names {
			s := dashed(n)
			if d.arg != "" {
				if len(n) == 1 {
					s += "+"
				} else {
					s += "="
				}
			}
			specs = append(specs, s)
		}
		repeat := ""
		if d.arg == "" && len(names[0]) == 1 {
			repeat = "*" // -nn, and the text helper's -vv
		}
		if len(specs) == 1 {
			p("  '%s%s[%s]%s' \\", repeat, specs[0], desc, action)
			continue
		}
		// Either name, once (or repeated, for a one-letter switch).
		prefix := repeat
		if prefix == "" {
			var e []string
			for _, n := range names {
				e = append(e, dashed(n))
			}
			prefix = "(" + strings.Join(e, " ") + ")"
		}
		p("  '%s'{%s}'[%s]%s' \\", prefix, strings.Join(specs, ","), desc, action)
	}
	p("  '*:interface or filter expression: '")
}
