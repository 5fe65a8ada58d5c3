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
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Ports the demo's servers listen on in namespace A.
const (
	portDNS   = 53
	portHTTP  = 80
	portTLS   = 443
	portBulk  = 5001
	portBurst = 9999
)

// Names the demo's DNS server answers and its TLS clients ask for.
var (
	dnsNames = []string{"www.example.test.", "api.example.test.", "cdn.example.test.", "mail.example.test.", "shop.example.test."}
	sniNames = []string{"shop.example.test", "login.example.test", "api.example.test"}
	paths    = []string{"/", "/index.html", "/api/items?id=42", "/static/app.js", "/health"}
)

// Run starts the servers in namespace A and drives clients from B until ctx
// ends: a round of traffic every interval, each kind at least once in the
// first round. Errors of single exchanges are ignored (the demo goes on);
// an error starting the servers is returned.
func (e *Env) Run(ctx context.Context, interval time.Duration) error {
	stop, err := e.serve()
	if err != nil {
		return err
	}
	defer stop()
	kinds := []func(context.Context) error{e.dns, e.http, e.tls, e.ping, e.burst, e.bulk}
	t := time.NewTicker(interval)
	defer t.Stop()
	for round := 0; ; round++ {
		for i, k := range kinds {
			if round == 0 || mrand.IntN(3) == 0 || i < 2 {
				_ = k(ctx)
			}
			if ctx.Err() != nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// serve starts the servers in namespace A; stop closes them.
func (e *Env) serve() (stop func(), err error) {
	var closers []io.Closer
	var wg sync.WaitGroup
	stop = func() {
		for _, c := range closers {
			c.Close()
		}
		wg.Wait()
	}
	listen := func(network string, port int) (net.Listener, net.PacketConn, error) {
		var l net.Listener
		var pc net.PacketConn
		err := e.InA(func() (err error) {
			if network == "udp4" {
				pc, err = net.ListenPacket(network, e.Addr(port))
			} else {
				l, err = net.Listen(network, e.Addr(port))
			}
			return err
		})
		return l, pc, err
	}
	fail := func(err error) (func(), error) { stop(); return nil, fmt.Errorf("demo servers: %w", err) }

	// DNS: answer every A question with an address in the demo range.
	_, dnsConn, err := listen("udp4", portDNS)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, dnsConn)
	wg.Add(1)
	go func() { defer wg.Done(); serveDNS(dnsConn) }()

	// HTTP.
	hl, _, err := listen("tcp4", portHTTP)
	if err != nil {
		return fail(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "bpftop-cap demo: %s %s\n%s", r.Method, r.URL, bytes.Repeat([]byte("lorem ipsum "), 40))
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	closers = append(closers, hs)
	wg.Add(1)
	go func() { defer wg.Done(); _ = hs.Serve(hl) }()

	// TLS, with a throw-away self-signed certificate.
	cert, err := selfSigned()
	if err != nil {
		return fail(err)
	}
	tl, _, err := listen("tcp4", portTLS)
	if err != nil {
		return fail(err)
	}
	ts := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 5 * time.Second}
	closers = append(closers, ts)
	wg.Add(1)
	go func() { defer wg.Done(); _ = ts.ServeTLS(tl, "", "") }()

	// Bulk TCP sink and UDP burst sink.
	bl, _, err := listen("tcp4", portBulk)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, bl)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := bl.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	_, burstConn, err := listen("udp4", portBurst)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, burstConn)
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			if _, _, err := burstConn.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return stop, nil
}

func serveDNS(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
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

// dialB makes a connection from namespace B.
func (e *Env) dialB(network, addr string) (net.Conn, error) {
	var c net.Conn
	err := e.InB(func() (err error) {
		c, err = net.DialTimeout(network, addr, 2*time.Second)
		return err
	})
	return c, err
}

func (e *Env) dns(ctx context.Context) error {
	c, err := e.dialB("udp4", e.Addr(portDNS))
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

// client returns an HTTP client whose connections are made in namespace B.
func (e *Env) client(tlsConf *tls.Config) *http.Client {
	return &http.Client{
		Timeout: 3 * time.Second,
		Transport: &http.Transport{
			DialContext:       func(_ context.Context, network, addr string) (net.Conn, error) { return e.dialB(network, addr) },
			TLSClientConfig:   tlsConf,
			DisableKeepAlives: true,
		},
	}
}

func (e *Env) http(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+e.Addr(portHTTP)+paths[mrand.IntN(len(paths))], nil)
	req.Header.Set("User-Agent", "bpftop-cap-demo/1")
	resp, err := e.client(nil).Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func (e *Env) tls(ctx context.Context) error {
	sni := sniNames[mrand.IntN(len(sniNames))]
	conf := &tls.Config{ServerName: sni, InsecureSkipVerify: true} //nolint:gosec // the demo's own self-signed server
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+e.Addr(portTLS)+"/", nil)
	resp, err := e.client(conf).Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func (e *Env) ping(ctx context.Context) error {
	var pc *icmp.PacketConn
	if err := e.InB(func() (err error) {
		pc, err = icmp.ListenPacket("ip4:icmp", e.AddrB)
		return err
	}); err != nil {
		return err
	}
	defer pc.Close()
	for seq := 1; seq <= 3; seq++ {
		m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 0xbc, Seq: seq, Data: []byte("bpftop-cap demo ping")}}
		b, _ := m.Marshal(nil)
		if _, err := pc.WriteTo(b, &net.IPAddr{IP: net.ParseIP(e.AddrA)}); err != nil {
			return err
		}
		pc.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1500)
		_, _, _ = pc.ReadFrom(buf)
	}
	return ctx.Err()
}

func (e *Env) burst(ctx context.Context) error {
	c, err := e.dialB("udp4", e.Addr(portBurst))
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

func (e *Env) bulk(ctx context.Context) error {
	c, err := e.dialB("tcp4", e.Addr(portBulk))
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
