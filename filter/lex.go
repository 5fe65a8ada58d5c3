package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind int

const (
	tEOF   tokKind = iota
	tWord          // identifier, keyword, number or address: one run of [A-Za-z0-9_.:-]
	tPunct         // operator or bracket
)

// token is one lexical token with its byte offset in the expression.
type token struct {
	kind    tokKind
	text    string
	pos     int
	escaped bool // a word written with a leading backslash (\tcp): never a keyword
}

// SyntaxError reports an invalid expression: where it went wrong and why.
type SyntaxError struct {
	Expr  string // the whole expression
	Pos   int    // byte offset of the offending token in Expr (0-based)
	Token string // the offending token; "" at the end of the expression
	Msg   string // what was wrong or expected
}

// Error returns one line: filter: syntax error at "tok" (column N): msg.
func (e *SyntaxError) Error() string {
	at := "end of expression"
	if e.Token != "" {
		at = fmt.Sprintf("%q", e.Token)
	}
	return fmt.Sprintf("filter: syntax error at %s (column %d): %s", at, e.Pos+1, e.Msg)
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == ':' || c == '-'
}

// lex splits expr into tokens. Like libpcap's scanner, a word may contain
// '-' and '.' (icmp-echo, 1-1024, 10.0.0.1) and ':' (MAC and IPv6 addresses);
// a ':' that does not belong to an address ends the word, so tcp[13:1] lexes
// as tcp [ 13 : 1 ].
func lex(expr string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\\':
			j := i + 1
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			if j == i+1 {
				return nil, &SyntaxError{Expr: expr, Pos: i, Token: `\`, Msg: "expected a name after the backslash"}
			}
			toks = append(toks, token{kind: tWord, text: expr[i+1 : j], pos: i, escaped: true})
			i = j
		case isWordByte(c) && c != '-' && c != ':' && c != '.':
			j := i
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			w := expr[i:j]
			if k := strings.IndexByte(w, ':'); k >= 0 && !isMAC(w) && !isIPv6(w) {
				w = w[:k]
			}
			toks = append(toks, token{kind: tWord, text: w, pos: i})
			i += len(w)
		case c == ':' && i+1 < len(expr) && expr[i+1] == ':':
			// An IPv6 address starting with "::".
			j := i
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			toks = append(toks, token{kind: tWord, text: expr[i:j], pos: i})
			i = j
		default:
			op := ""
			for _, p := range [...]string{"&&", "||", "<<", ">>", "==", "!=", "<=", ">="} {
				if strings.HasPrefix(expr[i:], p) {
					op = p
					break
				}
			}
			if op == "" {
				if !strings.ContainsRune("()[]:+-*/%&|^=<>!", rune(c)) {
					r, _ := utf8.DecodeRuneInString(expr[i:])
					return nil, &SyntaxError{Expr: expr, Pos: i, Token: string(r), Msg: "unexpected character"}
				}
				op = string(c)
			}
			toks = append(toks, token{kind: tPunct, text: op, pos: i})
			i += len(op)
		}
	}
	toks = append(toks, token{kind: tEOF, pos: len(expr)})
	return toks, nil
}
