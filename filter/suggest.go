package filter

import (
	"fmt"
	"slices"
	"strings"
)

// suggest looks for the keyword a misspelt word of a failed expression was
// meant to be ("tcp prot 8080": port). A keyword is offered when it is
// within a typo or two of the word (case aside: keywords are lower case,
// as in libpcap) and the expression with it in the word's place compiles,
// or at least gets further; the error then says so.
func suggest(expr string, se *SyntaxError) {
	w := se.Token
	if w == "" || se.Pos < 0 || se.Pos+len(w) > len(expr) || expr[se.Pos:se.Pos+len(w)] != w ||
		keywords[w] || pnames[w] || !isWordByte(w[0]) {
		return
	}
	if _, ok := parseNum(w); ok {
		return
	}
	lw := strings.ToLower(w)
	limit := 1
	if len(lw) > 4 {
		limit = 2
	}
	var vocab []string
	for _, m := range []map[string]bool{keywords, pnames} {
		for k := range m {
			vocab = append(vocab, k)
		}
	}
	slices.Sort(vocab) // the same suggestion every time
	// The best are those that make it compile, then the nearest.
	var best []string
	bestRank := 1 << 30
	for _, k := range vocab {
		d := editDistance(lw, k)
		if d > limit {
			continue
		}
		rank := d
		fixed := expr[:se.Pos] + k + expr[se.Pos+len(w):]
		if err := parseOnly(fixed); err != nil {
			fe, ok := err.(*SyntaxError)
			if !ok || fe.Pos <= se.Pos {
				continue // no better with it
			}
			rank += 100
		}
		switch {
		case rank < bestRank:
			best, bestRank = []string{k}, rank
		case rank == bestRank:
			best = append(best, k)
		}
	}
	switch len(best) {
	case 0:
		return
	case 1:
		se.Msg = fmt.Sprintf("unknown word %q: did you mean %q?", w, best[0])
	default:
		se.Msg = fmt.Sprintf("unknown word %q: did you mean %q or %q?", w, best[0], best[1])
	}
}

// parseOnly reports whether expr parses, without suggestions.
func parseOnly(expr string) error {
	toks, err := lex(expr)
	if err != nil {
		return err
	}
	p := parser{expr: expr, toks: toks, layer: layer{link: LinkEthernet}}
	_, err = p.parse()
	return err
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of neighbours, each 1.
func editDistance(a, b string) int {
	if len(a) > 32 || len(b) > 32 {
		return 99 // no keyword is that long
	}
	var d [33][33]int
	for i := 0; i <= len(a); i++ {
		d[i][0] = i
	}
	for j := 0; j <= len(b); j++ {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
