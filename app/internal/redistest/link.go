package redistest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Link is a TCP relay to a server that a test can cut and heal, as a
// network partition does: while cut, bytes already sent are held (as TCP
// retransmits them) and new connections are accepted but go unanswered;
// on heal everything held is delivered.
type Link struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	heal  *sync.Cond
	conns []net.Conn
}

// NewLink relays 127.0.0.1:<free port> to target until the test ends.
func NewLink(t testing.TB, target string) *Link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("link to %s: %v", target, err)
	}
	l := &Link{ln: ln, target: target}
	l.heal = sync.NewCond(&l.mu)
	go l.accept()
	t.Cleanup(l.close)
	return l
}

// Addr is the address clients dial instead of the target's.
func (l *Link) Addr() string { return l.ln.Addr().String() }

// Cut stops delivering bytes either way.
func (l *Link) Cut() { l.set(true) }

// Heal delivers what was held and relays again.
func (l *Link) Heal() { l.set(false) }

func (l *Link) set(cut bool) {
	l.mu.Lock()
	l.cut = cut
	l.mu.Unlock()
	l.heal.Broadcast()
}

// pass blocks while the link is cut.
func (l *Link) pass() {
	l.mu.Lock()
	for l.cut {
		l.heal.Wait()
	}
	l.mu.Unlock()
}

func (l *Link) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			l.pass()
			up, err := net.Dial("tcp", l.target)
			if err != nil {
				c.Close()
				return
			}
			l.mu.Lock()
			l.conns = append(l.conns, c, up)
			l.mu.Unlock()
			go l.relay(up, c)
			l.relay(c, up)
		}()
	}
}

// relay copies src to dst, holding each chunk while the link is cut.
func (l *Link) relay(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			l.pass()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				src.Close()
			}
			return
		}
	}
}

func (l *Link) close() {
	l.ln.Close()
	l.Heal()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}
