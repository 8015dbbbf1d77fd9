// Package audit makes payments' histories tamper-evident. Every change to
// a payment is an event in payments.payment_events; a payment's events
// form a hash chain (Hash), so editing or removing an event breaks the
// chain at that event. An administrator could recompute a whole chain, so
// the chains are anchored outside the database's reach: Anchor signs a
// digest of every event in a range of ids with a KMS key and stores it
// where nobody can change it (an S3 Object Lock bucket); anchors chain to
// each other too. Verify recomputes both and names the first broken link.
//
// The canonical text of an event is computed identically here and by the
// database function payments.event_hash (migration 00005), which writes
// the chains; a test keeps them equal. The package imports only the
// standard library.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event is one change of a payment, as stored.
type Event struct {
	// ID orders all events; anchors cover ranges of it.
	ID         int64
	PaymentID  string
	Seq        int
	Type       string
	MerchantID string
	Actor      string
	RequestID  string
	OccurredAt time.Time
	Details    string
	Hash       []byte
}

// genesis is the previous hash of a chain's first event.
var genesis = make([]byte, sha256.Size)

// Canonical is the text an event's hash covers: the payment, the type, who,
// the request, when (UTC, microseconds) and what changed, one per line.
func Canonical(e Event) []byte {
	return []byte(strings.Join([]string{
		e.PaymentID, e.Type, e.MerchantID, e.Actor, e.RequestID,
		e.OccurredAt.UTC().Format("2006-01-02T15:04:05.000000Z"), e.Details,
	}, "\n"))
}

// Hash is sha256(previous || Canonical(e)); previous is nil for a chain's
// first event.
func Hash(previous []byte, e Event) []byte {
	if previous == nil {
		previous = genesis
	}
	h := sha256.New()
	h.Write(previous)
	h.Write(Canonical(e))
	return h.Sum(nil)
}

// Break is the first broken link found.
type Break struct {
	PaymentID string `json:"paymentId,omitempty"`
	Seq       int    `json:"seq,omitempty"`
	EventID   int64  `json:"eventId,omitempty"`
	Anchor    string `json:"anchor,omitempty"`
	Reason    string `json:"reason"`
}

func (b Break) Error() string {
	switch {
	case b.Anchor != "":
		return fmt.Sprintf("anchor %s: %s", b.Anchor, b.Reason)
	default:
		return fmt.Sprintf("payment %s, event %d (id %d): %s", b.PaymentID, b.Seq, b.EventID, b.Reason)
	}
}

// VerifyChain checks one payment's events, in seq order: numbered from 1
// without gaps, each hash the hash of its predecessor and itself.
func VerifyChain(events []Event) *Break {
	var previous []byte
	for i, e := range events {
		if e.Seq != i+1 {
			return &Break{PaymentID: e.PaymentID, Seq: e.Seq, EventID: e.ID, Reason: fmt.Sprintf("event %d follows event %d: one is missing", e.Seq, i)}
		}
		if want := Hash(previous, e); !bytes.Equal(e.Hash, want) {
			return &Break{PaymentID: e.PaymentID, Seq: e.Seq, EventID: e.ID, Reason: "the hash does not match the event and its predecessor: the event, or one before it, was changed"}
		}
		previous = e.Hash
	}
	return nil
}

// Anchor is a signed digest of every event with an id in (FromID, ToID].
type Anchor struct {
	Environment string    `json:"environment"`
	FromID      int64     `json:"fromId"`
	ToID        int64     `json:"toId"`
	Events      int       `json:"events"`
	Digest      string    `json:"digest"`
	Previous    string    `json:"previous"` // the previous anchor's digest; "" for the first
	CreatedAt   time.Time `json:"createdAt"`
	KeyID       string    `json:"keyId"`
	Signature   []byte    `json:"signature"`
}

// ObjectPrefix is where anchors are kept in the environment's Object Lock
// bucket: the audit function writes there and to HintKey, and its IAM
// policy (infra) allows nothing else.
const ObjectPrefix = "anchors/"

// HintKey names the newest anchor, outside ObjectPrefix: S3 lists keys in
// ascending order only, and the hint spares the anchor run a listing of
// every anchor of years.
const HintKey = "hints/latest"

// Name is the anchor's object name, its FromID: anchors sort in the order
// they chain, and two runs that start from the same anchor (a scheduled run
// and an operator's) write the same name, so that the second write fails
// rather than fork the chain of anchors.
func (a Anchor) Name() string { return fmt.Sprintf("%020d.json", a.FromID) }

// Digest is sha256 over one line per event, "<id> <payment> <seq> <hash>",
// in id order.
func Digest(events []Event) string {
	h := sha256.New()
	for _, e := range events {
		fmt.Fprintf(h, "%d %s %d %x\n", e.ID, e.PaymentID, e.Seq, e.Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// signedDigest is what the signature covers: the anchor without its
// signature and key id (which the signature itself vouches for), as JSON.
func (a Anchor) signedDigest() []byte {
	a.Signature, a.KeyID = nil, ""
	body, _ := json.Marshal(a)
	sum := sha256.Sum256(body)
	return sum[:]
}

// Signer signs and verifies digests with a key that the database's
// administrators cannot use to forge (a KMS asymmetric key in AWS).
type Signer interface {
	Sign(ctx context.Context, digest []byte) (signature []byte, keyID string, err error)
	Verify(ctx context.Context, digest, signature []byte, keyID string) error
}

// Events reads the event log.
type Events interface {
	// Range returns the events with ids in (from, to], in id order.
	Range(ctx context.Context, from, to int64) ([]Event, error)
	// Settled returns the largest event id whose events are all committed
	// and older than a while, so that no transaction still in flight can
	// commit an event into a range already anchored.
	Settled(ctx context.Context) (int64, error)
	// Chains calls fn with every payment's events in seq order.
	Chains(ctx context.Context, fn func([]Event) error) error
}

// Anchors stores anchors where they cannot be changed.
type Anchors interface {
	Put(ctx context.Context, a Anchor) error
	// List returns every anchor, in ToID order.
	List(ctx context.Context) ([]Anchor, error)
	// Last returns the anchor with the largest ToID, nil when there is
	// none, without reading every anchor: anchoring runs every hour, and
	// the anchors of years are many.
	Last(ctx context.Context) (*Anchor, error)
}

// MaxAnchorEvents bounds one anchor's range, so that one anchor run stays
// short; a backlog takes several.
const MaxAnchorEvents = 100_000

// AnchorNext anchors the settled events after the last anchor, if any, and
// returns the new anchor (nil when there was nothing to anchor).
func AnchorNext(ctx context.Context, environment string, events Events, anchors Anchors, signer Signer, now time.Time) (*Anchor, error) {
	last, err := anchors.Last(ctx)
	if err != nil {
		return nil, err
	}
	var from int64
	var previous string
	if last != nil {
		from, previous = last.ToID, last.Digest
	}
	to, err := events.Settled(ctx)
	if err != nil {
		return nil, err
	}
	to = min(to, from+MaxAnchorEvents)
	if to <= from {
		return nil, nil
	}
	batch, err := events.Range(ctx, from, to)
	if err != nil {
		return nil, err
	}
	a := Anchor{Environment: environment, FromID: from, ToID: to, Events: len(batch), Digest: Digest(batch), Previous: previous, CreatedAt: now.UTC()}
	if a.Signature, a.KeyID, err = signer.Sign(ctx, a.signedDigest()); err != nil {
		return nil, fmt.Errorf("audit: sign the anchor of (%d, %d]: %w", from, to, err)
	}
	if err := anchors.Put(ctx, a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Report is what Verify found.
type Report struct {
	Payments int     `json:"payments"`
	Events   int     `json:"events"`
	Anchors  int     `json:"anchors"`
	Broken   []Break `json:"broken,omitempty"`
}

// OK reports whether nothing was broken.
func (r Report) OK() bool { return len(r.Broken) == 0 }

// Verify checks every payment's chain and every anchor: its signature, its
// link to the previous anchor, and its digest against the events in the
// database now. Each chain reports its first broken link; each anchor
// whether it still matches.
func Verify(ctx context.Context, events Events, anchors Anchors, signer Signer) (Report, error) {
	var r Report
	err := events.Chains(ctx, func(chain []Event) error {
		r.Payments++
		r.Events += len(chain)
		if b := VerifyChain(chain); b != nil {
			r.Broken = append(r.Broken, *b)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	list, err := anchors.List(ctx)
	if err != nil {
		return r, err
	}
	previous := ""
	var previousTo int64
	for _, a := range list {
		r.Anchors++
		switch err := signer.Verify(ctx, a.signedDigest(), a.Signature, a.KeyID); {
		case err != nil:
			r.Broken = append(r.Broken, Break{Anchor: a.Name(), Reason: "its signature does not verify: " + err.Error()})
			continue
		case a.Previous != previous || a.FromID != previousTo:
			r.Broken = append(r.Broken, Break{Anchor: a.Name(), Reason: "it does not follow the previous anchor: an anchor is missing"})
		}
		previous, previousTo = a.Digest, a.ToID
		batch, err := events.Range(ctx, a.FromID, a.ToID)
		if err != nil {
			return r, err
		}
		if Digest(batch) != a.Digest || len(batch) != a.Events {
			r.Broken = append(r.Broken, Break{Anchor: a.Name(), Reason: fmt.Sprintf(
				"the events with ids in (%d, %d] are not what was anchored (%d events now, %d then): an event was changed, added or removed, even if its chain was recomputed",
				a.FromID, a.ToID, len(batch), a.Events)})
		}
	}
	return r, nil
}

// ErrBroken is returned by callers that treat a broken report as failure.
var ErrBroken = errors.New("audit: the history is broken")
