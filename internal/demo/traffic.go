package demo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// What each demo process does: its servers run in namespace A, its clients
// in B, each in a process of its own (procs.go), so that process
// attribution has something to tell apart.

// Ports the demo's servers listen on in namespace A.
const (
	portDNS   = 53
	portHTTP  = 80
	portTLS   = 443
	portBulk  = 5001
	portBurst = 9999
)

// roundEvery is how often a client starts a round of its traffic.
const roundEvery = 700 * time.Millisecond

// Names the demo's DNS server answers and its TLS clients ask for.
var (
	dnsNames = []string{"www.example.test.", "api.example.test.", "cdn.example.test.", "mail.example.test.", "shop.example.test."}
	sniNames = []string{"shop.example.test", "login.example.test", "api.example.test"}
	paths    = []string{"/", "/index.html", "/api/items?id=42", "/static/app.js", "/health"}
)

// kind is one sort of client traffic; always, it is in every round, else in
// one round of three (and always in the first).
type kind struct {
	do     func(ctx context.Context, server string) error
	always bool
}

// clientLoop drives kinds against server (A's address) until ctx ends: a
// round every roundEvery, each kind at least once in the first round.
// Errors of single exchanges are ignored (the demo goes on).
func clientLoop(ctx context.Context, server string, kinds []kind) {
	t := time.NewTicker(roundEvery)
	defer t.Stop()
	for round := 0; ; round++ {
		for _, k := range kinds {
			if round == 0 || k.always || mrand.IntN(3) == 0 {
				_ = k.do(ctx, server)
			}
			if ctx.Err() != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// serveDNS answers every A question with an address in the demo range.
func serveDNS(pc net.PacketConn) error {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		if q.Type == dnsmessage.TypeA {
			_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300},
				dnsmessage.AResource{A: [4]byte{198, 18, 77, byte(10 + len(q.Name.String())%200)}})
		}
		msg, err := b.Finish()
		if err == nil {
			_, _ = pc.WriteTo(msg, from)
		}
	}
}

// webServer is the HTTP server of demo-web and, with a certificate, of
// demo-tls.
func webServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "bpftop-cap demo: %s %s\n%s", r.Method, r.URL, bytes.Repeat([]byte("lorem ipsum "), 40))
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}

// serveTLS serves HTTPS on l with a throw-away self-signed certificate.
func serveTLS(l net.Listener) error {
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	s := webServer()
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	return s.ServeTLS(l, "", "")
}

// serveSink swallows TCP bulk transfers on l and UDP bursts on pc.
func serveSink(l net.Listener, pc net.PacketConn) error {
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
	}
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bpftop-cap demo"},
		DNSNames:     sniNames,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func dial(network, addr string) (net.Conn, error) {
	return net.DialTimeout(network, addr, 2*time.Second)
}

func addr(host string, port int) string { return net.JoinHostPort(host, fmt.Sprint(port)) }

func lookup(ctx context.Context, server string) error {
	c, err := dial("udp4", addr(server, portDNS))
	if err != nil {
		return err
	}
	defer c.Close()
	for i, name := range dnsNames {
		if i > 0 && mrand.IntN(2) == 0 {
			continue
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: uint16(mrand.IntN(65536)), RecursionDesired: true})
		_ = b.StartQuestions()
		_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		msg, _ := b.Finish()
		if _, err := c.Write(msg); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1500)
		_, _ = c.Read(buf)
	}
	return ctx.Err()
}

// client returns an HTTP client that opens a new connection per request.
func client(tlsConf *tls.Config) *http.Client {
	return &http.Client{
		Timeout: 3 * time.Second,
		Transport: &http.Transport{
			DialContext:       func(_ context.Context, network, addr string) (net.Conn, error) { return dial(network, addr) },
			TLSClientConfig:   tlsConf,
			DisableKeepAlives: true,
		},
	}
}

func fetch(ctx context.Context, server string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr(server, portHTTP)+paths[mrand.IntN(len(paths))], nil)
	req.Header.Set("User-Agent", "bpftop-cap-demo/1")
	resp, err := client(nil).Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func fetchTLS(ctx context.Context, server string) error {
	sni := sniNames[mrand.IntN(len(sniNames))]
	conf := &tls.Config{ServerName: sni, InsecureSkipVerify: true} //nolint:gosec // the demo's own self-signed server
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+addr(server, portTLS)+"/", nil)
	resp, err := client(conf).Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// pinger returns the ICMP echo kind, sending from local.
func pinger(local string) func(context.Context, string) error {
	return func(ctx context.Context, server string) error {
		pc, err := icmp.ListenPacket("ip4:icmp", local)
		if err != nil {
			return err
		}
		defer pc.Close()
		for seq := 1; seq <= 3; seq++ {
			m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 0xbc, Seq: seq, Data: []byte("bpftop-cap demo ping")}}
			b, _ := m.Marshal(nil)
			if _, err := pc.WriteTo(b, &net.IPAddr{IP: net.ParseIP(server)}); err != nil {
				return err
			}
			pc.SetReadDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 1500)
			_, _, _ = pc.ReadFrom(buf)
		}
		return ctx.Err()
	}
}

func burst(ctx context.Context, server string) error {
	c, err := dial("udp4", addr(server, portBurst))
	if err != nil {
		return err
	}
	defer c.Close()
	payload := bytes.Repeat([]byte("burst "), 200)
	for range 200 {
		if _, err := c.Write(payload); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func bulk(ctx context.Context, server string) error {
	c, err := dial("tcp4", addr(server, portBulk))
	if err != nil {
		return err
	}
	defer c.Close()
	chunk := bytes.Repeat([]byte("bulk transfer "), 4096)
	for range 16 { // about 900 KB
		if _, err := c.Write(chunk); err != nil {
			return err
		}
	}
	return ctx.Err()
}
