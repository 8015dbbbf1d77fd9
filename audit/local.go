package audit

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LocalSigner signs with an ECDSA P-256 key of its own: for tests and a
// platform run on one machine, where no KMS key exists. Its key id is the
// public key's fingerprint.
type LocalSigner struct{ key *ecdsa.PrivateKey }

// NewLocalSigner makes a signer with a fresh key.
func NewLocalSigner() (*LocalSigner, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return &LocalSigner{key: key}, err
}

// LoadOrCreateLocalSigner keeps the key in a PEM file (mode 0600), so that
// anchors made earlier still verify.
func LoadOrCreateLocalSigner(path string) (*LocalSigner, error) {
	if data, err := os.ReadFile(path); err == nil {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("audit: %s is not PEM", path)
		}
		key, err := x509.ParseECPrivateKey(block.Bytes)
		return &LocalSigner{key: key}, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	s, err := NewLocalSigner()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(s.key)
	if err != nil {
		return nil, err
	}
	return s, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

func (s *LocalSigner) keyID() string {
	der, _ := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	sum := sha256.Sum256(der)
	return "local:" + hex.EncodeToString(sum[:8])
}

// Sign implements Signer.
func (s *LocalSigner) Sign(_ context.Context, digest []byte) ([]byte, string, error) {
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, digest)
	return sig, s.keyID(), err
}

// Verify implements Signer.
func (s *LocalSigner) Verify(_ context.Context, digest, signature []byte, keyID string) error {
	if keyID != s.keyID() {
		return fmt.Errorf("signed with key %s, not %s", keyID, s.keyID())
	}
	if !ecdsa.VerifyASN1(&s.key.PublicKey, digest, signature) {
		return errors.New("invalid signature")
	}
	return nil
}

// DirAnchors keeps anchors as files in a directory and never overwrites
// one: the local stand-in for the Object Lock bucket.
type DirAnchors string

// Put implements Anchors.
func (d DirAnchors) Put(_ context.Context, a Anchor) error {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return err
	}
	body, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(string(d), a.Name()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return fmt.Errorf("audit: anchor %s: %w", a.Name(), err)
	}
	defer f.Close()
	_, err = f.Write(body)
	return err
}

// Last implements Anchors.
func (d DirAnchors) Last(ctx context.Context) (*Anchor, error) {
	all, err := d.List(ctx)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return &all[len(all)-1], nil
}

// List implements Anchors.
func (d DirAnchors) List(_ context.Context) ([]Anchor, error) {
	entries, err := os.ReadDir(string(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var anchors []Anchor
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		body, err := os.ReadFile(filepath.Join(string(d), e.Name()))
		if err != nil {
			return nil, err
		}
		var a Anchor
		if err := json.Unmarshal(body, &a); err != nil {
			return nil, fmt.Errorf("audit: anchor %s: %w", e.Name(), err)
		}
		anchors = append(anchors, a)
	}
	slices.SortFunc(anchors, func(a, b Anchor) int { return cmp.Compare(a.ToID, b.ToID) })
	return anchors, nil
}
