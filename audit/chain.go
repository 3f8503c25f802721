package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// KeyPurpose is the HKDF purpose the chain key is derived under from the
// master key (keys.MasterKey.Derive).
const KeyPurpose = "audit-chain"

// Checkpoint kinds.
const (
	CheckpointPeriodic = "periodic"
	CheckpointCut      = "cut"
)

// Chain computes and checks the audit chain's MACs under one key. Without
// the key nobody can make a MAC the chain accepts: someone who can write the
// database but does not hold the master key cannot edit, insert, reorder or
// renumber records and recompute the chain after the edit.
type Chain struct{ key []byte }

// NewChain returns a chain keyed by key (32 bytes, from
// keys.MasterKey.Derive(KeyPurpose)).
func NewChain(key []byte) (*Chain, error) {
	if len(key) < 32 {
		return nil, errors.New("audit: chain key must be at least 32 bytes")
	}
	return &Chain{key: append([]byte(nil), key...)}, nil
}

type macWriter struct{ h hash.Hash }

func (m macWriter) int(v int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	m.h.Write(b[:])
}

// bytes writes b length-prefixed, so no two field lists encode alike.
func (m macWriter) bytes(b []byte) { m.int(int64(len(b))); m.h.Write(b) }
func (m macWriter) str(s string)   { m.bytes([]byte(s)) }

func (c *Chain) mac(label string) macWriter {
	m := macWriter{hmac.New(sha256.New, c.key)}
	m.str(label)
	return m
}

// RecordMAC is r's MAC chained to prev, the MAC of the record before it
// (nil for the first record of the chain). It covers every field but MAC
// itself, Seq included, so a record moved to another place fails.
func (c *Chain) RecordMAC(prev []byte, r store.AuditRecord) []byte {
	m := c.mac("tessera audit record v1")
	m.bytes(prev)
	m.int(r.Seq)
	m.int(r.At.UnixMicro())
	for _, s := range []string{r.Event, r.Actor, r.UserID, r.SessionID, r.ClientID, r.IP, r.UserAgent, r.Outcome} {
		m.str(s)
	}
	m.bytes(r.Details)
	m.str(r.Node)
	return m.h.Sum(nil)
}

// HeadMAC is the MAC of a head at seq whose last record has MAC mac.
func (c *Chain) HeadMAC(seq int64, mac []byte) []byte {
	m := c.mac("tessera audit head v1")
	m.int(seq)
	m.bytes(mac)
	return m.h.Sum(nil)
}

// CheckpointSig is the MAC of a checkpoint's fields.
func (c *Chain) CheckpointSig(cp store.AuditCheckpoint) []byte {
	m := c.mac("tessera audit checkpoint v1")
	m.str(cp.Kind)
	m.int(cp.Seq)
	m.bytes(cp.MAC)
	m.int(cp.At.UnixMicro())
	m.str(cp.Node)
	return m.h.Sum(nil)
}

// Checkpoint returns a signed checkpoint of kind at the record seq whose
// MAC is mac.
func (c *Chain) Checkpoint(kind string, seq int64, mac []byte, at time.Time, node string) store.AuditCheckpoint {
	cp := store.AuditCheckpoint{Seq: seq, MAC: mac, At: at.UTC().Truncate(time.Microsecond), Kind: kind, Node: node}
	cp.Sig = c.CheckpointSig(cp)
	return cp
}

// Seal numbers recs after head and chains them: it is the seal function a
// backend's AppendAudit calls under its lock. It does not modify recs.
func (c *Chain) Seal(head store.AuditHead, recs []store.AuditRecord) ([]store.AuditRecord, store.AuditHead, error) {
	if head.Seq > 0 && !hmac.Equal(head.HeadMAC, c.HeadMAC(head.Seq, head.MAC)) {
		// The head was edited, or the key is not this chain's: appending
		// would chain new records to a forged end. Refuse, loudly.
		return nil, store.AuditHead{}, ErrBadHead
	}
	out := make([]store.AuditRecord, len(recs))
	prev, seq := head.MAC, head.Seq
	for i, r := range recs {
		seq++
		r.Seq = seq
		r.MAC = c.RecordMAC(prev, r)
		out[i], prev = r, r.MAC
	}
	return out, store.AuditHead{Seq: seq, MAC: prev, HeadMAC: c.HeadMAC(seq, prev)}, nil
}

// ErrBadHead means the stored head of the chain fails its MAC: it was
// edited, or this node's master key is not the one the chain was made with.
var ErrBadHead = errors.New("audit: chain head fails its MAC (edited, or another master key)")
