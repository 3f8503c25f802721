package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// ErrBusy is returned by Hash and Verify when the context ends before a
// hashing slot is free. The returned error also wraps the context's cause.
var ErrBusy = errors.New("password: context ended while waiting for a hashing slot")

// ErrQueueFull is returned by Hash and Verify, at once, when every hashing
// slot is taken and as many callers already wait as the queue holds. It
// wraps ErrBusy: both mean "try again shortly".
var ErrQueueFull = fmt.Errorf("password: too many hashes waiting: %w", ErrBusy)

// Hasher hashes and verifies passwords with argon2id
// (golang.org/x/crypto/argon2, version 19), encoding hashes in the PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, with salt and hash in
// unpadded standard base64.
//
// At most maxConcurrent hashes run at once, each holding a slot acquired
// with the caller's context, so that a login flood queues instead of
// exhausting memory: the peak is maxConcurrent times the Memory of the
// hashes in flight, which is Params.Memory except for stored hashes made
// with other parameters, and never more than 1 GiB each.
// The context bounds only the wait for a slot; a hash that has started runs
// to completion. At most maxQueued callers wait for a slot; one more gets
// ErrQueueFull at once, so that a flood is answered "busy, retry" quickly
// instead of every login waiting many seconds (each queued login adds one
// hash time to the wait of those behind it).
//
// A Hasher must be made with NewHasher. It is safe for concurrent use.
type Hasher struct {
	params    Params
	slots     chan struct{}
	maxQueued int64
	waiting   atomic.Int64

	// dummy is a well-formed hash at params with a random key, so that
	// VerifyDummy runs exactly Verify's code path.
	dummy string
}

// NewHasher returns a Hasher that hashes with p, runs at most
// maxConcurrent hashes at once and lets at most maxQueued callers wait for
// a slot. maxConcurrent <= 0 means runtime.NumCPU(), since argon2id with
// Parallelism 1 keeps one core busy and more would only queue for the CPU
// while holding memory; maxQueued <= 0 means DefaultQueuePerSlot per slot.
func NewHasher(p Params, maxConcurrent, maxQueued int) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	if maxQueued <= 0 {
		maxQueued = DefaultQueuePerSlot * maxConcurrent
	}
	dummy := phc{params: p, salt: randomBytes(p.SaltLength), key: randomBytes(p.KeyLength)}
	return &Hasher{
		params:    p,
		slots:     make(chan struct{}, maxConcurrent),
		maxQueued: int64(maxQueued),
		dummy:     dummy.String(),
	}, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params {
	return h.params
}

// Hash returns a PHC-encoded argon2id hash of password with a fresh salt
// from crypto/rand. It fails only with ErrBusy.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := randomBytes(h.params.SaltLength)
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return phc{params: h.params, salt: salt, key: key}.String(), nil
}

// Verify reports whether password matches encoded, comparing the derived key
// in constant time, and whether encoded was made with parameters other than
// the Hasher's, so that the caller can store a fresh Hash of password.
// needsRehash is only ever true together with ok, so a caller cannot be led
// to rehash a wrong password.
//
// The parameters read from encoded are checked against the bounds of
// Params.Validate before any work is done, so a hostile stored hash cannot
// make Verify allocate more than 1 GiB; one that is out of bounds or does not
// parse gives ErrMalformedHash. If the context ends while waiting for a slot,
// Verify returns ErrBusy.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	stored, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	key, err := h.derive(ctx, password, stored.salt, stored.params)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(key, stored.key) != 1 {
		return false, false, nil
	}
	return true, stored.params != h.params, nil
}

// VerifyDummy spends the same time and memory as Verify of a hash made with
// the Hasher's parameters, and always returns false. Login calls it for an
// unknown username so that the response time does not reveal whether the
// account exists.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) bool {
	// The outcome is discarded: the login fails whatever happened, and
	// an ErrBusy here is what Verify would have met for a real account too.
	_, _, _ = h.Verify(ctx, h.dummy, password)
	return false
}

func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength), nil
}

// DefaultQueuePerSlot is the default queue length per hashing slot: with
// the default parameters (tens of milliseconds a hash) the last in the
// queue waits about a second.
const DefaultQueuePerSlot = 16

func (h *Hasher) acquire(ctx context.Context) error {
	// Checked before the select, which would pick at random between a free
	// slot and a done context: a caller that has gone away gets no hash,
	// as with golang.org/x/sync/semaphore.
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrBusy, context.Cause(ctx))
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxQueued {
		h.waiting.Add(-1)
		return ErrQueueFull
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
	}
	return fmt.Errorf("%w: %w", ErrBusy, context.Cause(ctx))
}

// randomBytes relies on crypto/rand.Read, which since Go 1.24 never returns
// an error: it crashes the program rather than hand out a predictable salt.
func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
