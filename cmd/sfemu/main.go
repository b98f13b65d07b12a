// Command sfemu serves the Salesforce emulator (package sfemu): OAuth token endpoint, Streaming API over CometD
// long polling, the platform-event publish path and the /emulator/* control API.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "sfemu:", err)
		os.Exit(2)
	}
}

// listFlag collects a repeatable CHANNEL=VALUE flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	addr, certOut, jwtKeyFile, jwtKeyOut string
	pubsubAddr                           string
	tls, verbose                         bool
	preload, generate, records, objects  listFlag
}

func parseFlags(args []string, stderr io.Writer) (sfemu.Config, options, error) {
	cfg := sfemu.DefaultConfig()
	var o options
	fs := flag.NewFlagSet("sfemu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:7357", "listen address HOST:PORT (port 0 picks a free one)")
	fs.BoolVar(&o.tls, "tls", false, "serve HTTPS with a self-signed certificate (and the Pub/Sub API over TLS with it)")
	fs.StringVar(&o.pubsubAddr, "pubsub-addr", "", "also serve the Pub/Sub API (gRPC) on HOST:PORT (port 0 picks a free one); its address goes to stderr")
	fs.StringVar(&o.certOut, "tls-cert-out", "", "with -tls: write the certificate (PEM) to this file")
	fs.StringVar(&cfg.ClientID, "client-id", cfg.ClientID, "connected app consumer key")
	fs.StringVar(&cfg.ClientSecret, "client-secret", cfg.ClientSecret, "connected app consumer secret")
	fs.StringVar(&cfg.Username, "username", cfg.Username, "user name (password and jwt-bearer grants)")
	fs.StringVar(&cfg.Password, "password", cfg.Password, "password (the password grant takes password+security token)")
	fs.StringVar(&cfg.SecurityToken, "security-token", cfg.SecurityToken, "security token appended to the password")
	fs.StringVar(&cfg.RefreshToken, "refresh-token", cfg.RefreshToken, "refresh token accepted by the refresh_token grant")
	fs.StringVar(&o.jwtKeyFile, "jwt-public-key", "", "PEM file with the RSA public key (or certificate) verifying jwt-bearer assertions")
	fs.StringVar(&o.jwtKeyOut, "jwt-key-out", "", "generate an RSA key pair for the jwt-bearer grant and write its private key (PEM) here")
	fs.BoolVar(&cfg.GenericLoginHost, "generic-login-host", false, "behave like login.salesforce.com: refuse client_credentials")
	fs.StringVar(&cfg.InstanceURL, "instance-url", "", "instance_url in token answers (default: the URL the client used)")
	fs.DurationVar(&cfg.Hold, "hold", cfg.Hold, "long-poll hold (advice.timeout)")
	fs.DurationVar(&cfg.ReconnectWindow, "reconnect-window", cfg.ReconnectWindow, "a client silent this long after an answer expires (403::Unknown client)")
	fs.Var(&o.preload, "preload", "CHANNEL=N: N retained events at start (repeatable)")
	fs.Var(&o.generate, "generate", "CHANNEL=RATE: RATE events per second (repeatable)")
	fs.Var(&o.records, "records", "OBJECT=N: N generated records of an object at start, the object selected for change data capture (repeatable)")
	fs.Var(&o.objects, "object", "NAME__c[:FIELD__c=TYPE,...]: declare a custom object (repeatable; types string, textarea, picklist, double, currency, percent, int, boolean, date, datetime, phone, email, url)")
	fs.BoolVar(&cfg.AnyChannel, "any-channel", false, "a subscribe defines the channel it names (default: a channel nothing defined gets Salesforce's 400 / NOT_FOUND)")
	fs.Int64Var(&cfg.DailyAPIRequestLimit, "daily-api-request-limit", 0, "enforce DailyApiRequests: REST calls above it get REQUEST_LIMIT_EXCEEDED (0: count only)")
	fs.IntVar(&cfg.MaxBatch, "max-batch", cfg.MaxBatch, "max events per connect answer")
	fs.IntVar(&cfg.MaxResponseBytes, "max-response-bytes", 0, "max bytes of events per connect answer (0: no limit)")
	fs.IntVar(&cfg.MaxClients, "max-clients", cfg.MaxClients, "concurrent CometD clients (403::Organization concurrent user limit exceeded above)")
	fs.IntVar(&cfg.MaxRequestBytes, "max-request-bytes", cfg.MaxRequestBytes, "CometD request size limit (413 above)")
	fs.DurationVar(&cfg.TopicRetention, "retention-pushtopic", cfg.TopicRetention, "retention of PushTopic events")
	fs.DurationVar(&cfg.GenericRetention, "retention-generic", cfg.GenericRetention, "retention of generic streaming events")
	fs.DurationVar(&cfg.PlatformEventRetention, "retention-event", cfg.PlatformEventRetention, "retention of platform events")
	fs.DurationVar(&cfg.CDCRetention, "retention-cdc", cfg.CDCRetention, "retention of change data capture events")
	fs.IntVar(&cfg.MaxRetainedEvents, "max-retained-events", 0, "max retained events per channel (0: retention only)")
	fs.BoolVar(&cfg.AcceptReplayInRange, "replay-in-range", false, "accept any replay id within the retained range (default: only retained ids)")
	fs.IntVar(&cfg.MaxReplayGap, "max-replay-gap", cfg.MaxReplayGap, "replay ids step by 1..1+N (negative: contiguous)")
	fs.BoolVar(&cfg.AllowMissingCookies, "allow-missing-cookies", false, "accept requests without the BAYEUX_BROWSER cookie")
	fs.BoolVar(&cfg.PreciseCommitTimestamps, "precise-timestamps", false, "keep milliseconds in ChangeEventHeader.commitTimestamp (real events have whole seconds), for latency measurements")
	fs.BoolVar(&cfg.PubSubEncodeAtPublish, "pubsub-encode-at-publish", false, "encode platform and change events for the Pub/Sub API when they are published, not when first served: serving costs no encoding, for benchmarks of Pub/Sub clients (more memory per event)")
	fs.Int64Var(&cfg.DailyDeliveryLimit, "daily-delivery-limit", 0, "enforce DailyDeliveredPlatformEvents: platform and change event deliveries per run (0: count only)")
	fs.Int64Var(&cfg.DailyStreamingLimit, "daily-streaming-limit", 0, "enforce DailyDurableStreamingApiEvents: PushTopic and generic event deliveries per run (0: count only)")
	var seed uint64
	fs.Uint64Var(&seed, "seed", 0, "random seed for ids and payloads (0: random)")
	fs.BoolVar(&o.verbose, "v", false, "log requests to stderr")
	if err := fs.Parse(args); err != nil {
		return cfg, o, err
	}
	if fs.NArg() > 0 {
		return cfg, o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	cfg.Seed = seed
	for _, p := range o.preload {
		ch, n, err := splitAssignment(p, "-preload")
		if err != nil {
			return cfg, o, err
		}
		count, err := strconv.Atoi(n)
		if err != nil || count < 0 {
			return cfg, o, fmt.Errorf("-preload %s: N must be a non-negative integer", p)
		}
		cfg.Preload = append(cfg.Preload, sfemu.ChannelCount{Channel: ch, Count: count})
	}
	for _, g := range o.generate {
		ch, r, err := splitAssignment(g, "-generate")
		if err != nil {
			return cfg, o, err
		}
		rate, err := strconv.ParseFloat(r, 64)
		if err != nil || rate <= 0 {
			return cfg, o, fmt.Errorf("-generate %s: RATE must be a positive number of events per second", g)
		}
		cfg.Generate = append(cfg.Generate, sfemu.ChannelRate{Channel: ch, Rate: rate})
	}
	for _, spec := range o.objects {
		obj, err := org.ParseObjectSpec(spec)
		if err != nil {
			return cfg, o, fmt.Errorf("-object %s: %w", spec, err)
		}
		cfg.CustomObjects = append(cfg.CustomObjects, obj)
	}
	for _, rc := range o.records {
		name, n, err := splitAssignment(rc, "-records")
		if err != nil {
			return cfg, o, err
		}
		count, err := strconv.Atoi(n)
		if err != nil || count < 0 || count > 10_000_000 {
			return cfg, o, fmt.Errorf("-records %s: N must be an integer from 0 to 10000000", rc)
		}
		cfg.Records = append(cfg.Records, sfemu.ObjectCount{Object: name, Count: count})
	}
	if err := sfemu.CheckOrg(cfg); err != nil {
		return cfg, o, err
	}
	if o.verbose {
		logger := log.New(stderr, "sfemu ", log.LstdFlags|log.Lmicroseconds)
		cfg.Logf = logger.Printf
	}
	return cfg, o, nil
}

func splitAssignment(v, flagName string) (string, string, error) {
	i := strings.LastIndex(v, "=")
	if i <= 0 || i == len(v)-1 {
		return "", "", fmt.Errorf("%s %q: want CHANNEL=VALUE", flagName, v)
	}
	return v[:i], v[i+1:], nil
}

// run serves until ctx ends. It prints exactly one line to stdout once the listener is ready.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if err := loadJWTKey(&cfg, o); err != nil {
		return err
	}
	for _, p := range cfg.Preload {
		if sfemu.KindOf(p.Channel) == sfemu.KindUnknown {
			return fmt.Errorf("-preload %s: not a /topic/, /u/, /event/ or /data/ channel (without ?filter)", p.Channel)
		}
	}
	for _, g := range cfg.Generate {
		if sfemu.KindOf(g.Channel) == sfemu.KindUnknown {
			return fmt.Errorf("-generate %s: not a /topic/, /u/, /event/ or /data/ channel (without ?filter)", g.Channel)
		}
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	scheme := "http"
	var cert tls.Certificate
	if o.tls {
		cert, err = selfSignedCert(ln.Addr().(*net.TCPAddr), o.certOut)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
		scheme = "https"
	}
	emu := newEmulator(cfg)
	stopPubSub, err := servePubSub(emu, o, cert, stderr)
	if err != nil {
		ln.Close()
		emu.Close()
		return err
	}
	defer stopPubSub()
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(stderr, "sfemu http: ", 0)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "sfemu listening on %s://%s\n", scheme, ln.Addr())

	select {
	case err = <-done:
		emu.Close()
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	emu.Close() // answers held long polls, stops generators
	shutCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	<-done
	return nil
}

// preloadGCPercent is the garbage collector's target while a backlog is preloaded: generating events leaves
// garbage several times their size, and with the default target the heap would grow to twice the backlog
// before a collection, which is the peak RSS a user rehearsing a long outage pays. A GOGC setting wins.
const preloadGCPercent = 10

// newEmulator builds the emulator; a preload runs under a tight GC target and returns the freed memory to the
// system before serving.
func newEmulator(cfg sfemu.Config) *sfemu.Server {
	if len(cfg.Preload) == 0 || os.Getenv("GOGC") != "" {
		return sfemu.New(cfg)
	}
	prev := debug.SetGCPercent(preloadGCPercent)
	emu := sfemu.New(cfg)
	debug.SetGCPercent(prev)
	debug.FreeOSMemory()
	return emu
}

func loadJWTKey(cfg *sfemu.Config, o options) error {
	switch {
	case o.jwtKeyFile != "" && o.jwtKeyOut != "":
		return errors.New("-jwt-public-key and -jwt-key-out exclude each other")
	case o.jwtKeyOut != "":
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return fmt.Errorf("generating the JWT key pair: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return fmt.Errorf("encoding the JWT private key: %w", err)
		}
		if err := os.WriteFile(o.jwtKeyOut, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return fmt.Errorf("writing the JWT private key: %w", err)
		}
		cfg.JWTPublicKey = &key.PublicKey
	case o.jwtKeyFile != "":
		b, err := os.ReadFile(o.jwtKeyFile)
		if err != nil {
			return fmt.Errorf("reading -jwt-public-key: %w", err)
		}
		key, err := sfemu.ParseRSAPublicKeyPEM(b)
		if err != nil {
			return fmt.Errorf("reading -jwt-public-key %s: %w", o.jwtKeyFile, err)
		}
		cfg.JWTPublicKey = key
	}
	return nil
}

// selfSignedCert makes an ECDSA P-256 certificate for localhost and the listening address, written to certOut
// as PEM when given.
func selfSignedCert(addr *net.TCPAddr, certOut string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating the TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating the certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sfemu", Organization: []string{"sfemu"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if !addr.IP.IsUnspecified() && !addr.IP.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, addr.IP)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating the certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if certOut != "" {
		if err := os.WriteFile(certOut, certPEM, 0o644); err != nil {
			return tls.Certificate{}, fmt.Errorf("writing -tls-cert-out: %w", err)
		}
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("encoding the TLS key: %w", err)
	}
	return tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}
