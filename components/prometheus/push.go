package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/expfmt"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// pushTimeout bounds one push, so a hung Pushgateway cannot stall the loop or
// shutdown for long.
const pushTimeout = 10 * time.Second

// pushLoop pushes the registry to a Pushgateway every push_interval (if set)
// and once more at close. Its goroutine is owned by the exporter: close stops
// it and waits for it.
type pushLoop struct {
	pusher   *push.Pusher
	redactor *strings.Replacer
	log      *service.Logger

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func startPushLoop(conf config, reg *prom.Registry, log *service.Logger) *pushLoop {
	p := push.New(conf.pushURL, conf.pushJob).Gatherer(reg)
	if conf.pushUser != "" || conf.pushPassword != "" {
		p = p.BasicAuth(conf.pushUser, conf.pushPassword)
	}
	l := &pushLoop{
		pusher:   p,
		redactor: redactor(conf.pushURL, conf.pushPassword),
		log:      log,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go l.run(conf.pushInterval)
	return l
}

func (l *pushLoop) run(interval time.Duration) {
	defer close(l.done)
	if interval <= 0 {
		<-l.stop
		return
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ticker.C:
			ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
			if err := l.push(ctx); err != nil && l.log != nil {
				l.log.Warnf("%v", err)
			}
			cancel()
		}
	}
}

// push sends every metric; its error never carries the URL's password.
func (l *pushLoop) push(ctx context.Context) error {
	if err := l.pusher.PushContext(ctx); err != nil {
		return errors.New(l.redactor.Replace(fmt.Sprintf("pushing metrics to %s: %v", fieldPushURL, err)))
	}
	return nil
}

// close stops the loop, waits for it, and pushes a last time.
func (l *pushLoop) close(ctx context.Context) error {
	l.once.Do(func() { close(l.stop) })
	<-l.done
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	return l.push(ctx)
}

// redactor hides the secrets an error text of client_golang may hold: the
// push URL with its user info, and the basic-auth password.
func redactor(rawURL, password string) *strings.Replacer {
	var pairs []string
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		pairs = append(pairs, rawURL, u.Redacted())
		if p, ok := u.User.Password(); ok && p != "" {
			pairs = append(pairs, p, "xxxxx")
		}
	}
	if password != "" {
		pairs = append(pairs, password, "xxxxx")
	}
	return strings.NewReplacer(pairs...)
}

// writeFile writes every metric in the text format to path, through a
// temporary file renamed into place so a reader never sees half of it.
func writeFile(path string, g prom.Gatherer) error {
	families, err := g.Gather()
	if err != nil {
		return fmt.Errorf("gathering metrics for %s: %w", fieldFileOutputPath, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing metrics to %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	enc := expfmt.NewEncoder(tmp, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			tmp.Close()
			return fmt.Errorf("writing metrics to %s: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing metrics to %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing metrics to %s: %w", path, err)
	}
	return nil
}
