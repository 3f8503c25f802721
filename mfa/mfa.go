package mfa

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"net/netip"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/throttle"
)

// Errors callers branch on. To a client at login every one of
// ErrInvalidCode, ErrReplay and ErrNotEnrolled is the same "invalid
// code": which one it was is for the logs.
var (
	// ErrInvalidCode: the code matched nothing.
	ErrInvalidCode = errors.New("mfa: invalid code")
	// ErrReplay: a TOTP code of a step already accepted for this user
	// (RFC 6238 §5.2: the verifier MUST NOT accept the second attempt of
	// the same OTP after the successful validation).
	ErrReplay = errors.New("mfa: code already used")
	// ErrNotEnrolled: the user has no such factor (or no factor at all).
	ErrNotEnrolled = errors.New("mfa: factor not enrolled")
	// ErrAlreadyEnrolled: TOTP is enrolled; remove it before enrolling again.
	ErrAlreadyEnrolled = errors.New("mfa: factor already enrolled")
	// ErrMethod: a method this service does not verify by code.
	ErrMethod = errors.New("mfa: unsupported method")
)

// ThrottledError: second-factor attempts were refused unchecked after too
// many recent failures for this user or from this address.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("mfa: too many failed attempts, retry in %v", e.RetryAfter)
}

// Store is what second factors need from storage (store.Factors).
type Store interface {
	PutPendingTOTP(ctx context.Context, t store.TOTP) error
	TOTPByUser(ctx context.Context, userID string) (store.TOTP, error)
	ConfirmTOTP(ctx context.Context, userID, sealedSecret string, step int64, at time.Time, codes []store.RecoveryCode) error
	AdvanceTOTPStep(ctx context.Context, userID string, step int64) error
	DeleteTOTP(ctx context.Context, userID string) error
	ReplaceRecoveryCodes(ctx context.Context, userID string, codes []store.RecoveryCode) error
	UseRecoveryCode(ctx context.Context, userID string, hash [32]byte, at time.Time) error
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
	DeleteFactors(ctx context.Context, userID string) error
}

// Sealer seals secrets at rest (keys.MasterKey).
type Sealer interface {
	Seal(purpose, id string, plain []byte) (string, error)
	Open(purpose, id, sealed string) ([]byte, error)
}

// Factor is another kind of second factor the service knows of, such as
// WebAuthn credentials: it lists the factor among a user's methods, and
// counts it when the service asks whether the user has a factor left.
type Factor interface {
	Method() Method
	Enrolled(ctx context.Context, userID string) (bool, error)
}

// Limits are the failure budgets of second-factor attempts, per user and
// per client address (token buckets drained only by failures).
type Limits struct {
	PerUserBurst  int
	PerUserRefill time.Duration
	PerIPBurst    int
	PerIPRefill   time.Duration
}

// Config is the second factors' policy.
type Config struct {
	// Issuer labels the otpauth:// URI ("Tessera" if empty).
	Issuer string
	// Skew is how many 30 s steps either side of now a TOTP code may be
	// from (RFC 6238 §5.2 recommends at most one). Default 1.
	Skew int
	// RecoveryCodes is how many codes a (re)generation makes. Default 10.
	RecoveryCodes int
	Limits        Limits
	// Factors are other factor kinds (WebAuthn).
	Factors []Factor
	// Events receives event.MFAFailed for refused codes and
	// event.FactorChanged (nil: none).
	Events event.Sink
	Now    func() time.Time // nil: time.Now
}

// TOTP parameters: those every authenticator app supports (RFC 6238's
// defaults: HMAC-SHA1, 6 digits, 30 s).
const (
	period     = 30
	digits     = otp.DigitsSix
	secretSize = 20 // bytes: 160 bits, RFC 4226 §4's recommendation
	// sealPurpose derives the key TOTP secrets are sealed under.
	sealPurpose = "totp-secret/v1"
)

// Service manages and verifies second factors. Safe for concurrent use.
type Service struct {
	st             Store
	sealer         Sealer
	cfg            Config
	perUser, perIP *throttle.Limiter
}

// New returns the service.
func New(st Store, sealer Sealer, cfg Config) *Service {
	if cfg.Issuer == "" {
		cfg.Issuer = "Tessera"
	}
	if cfg.Skew <= 0 {
		cfg.Skew = 1
	}
	if cfg.RecoveryCodes <= 0 {
		cfg.RecoveryCodes = 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := cfg.Limits
	if l.PerUserBurst <= 0 {
		l.PerUserBurst, l.PerUserRefill = 10, time.Minute
	}
	if l.PerIPBurst <= 0 {
		l.PerIPBurst, l.PerIPRefill = 30, 6*time.Second
	}
	return &Service{st: st, sealer: sealer, cfg: cfg,
		perUser: throttle.New(l.PerUserBurst, l.PerUserRefill, cfg.Now),
		perIP:   throttle.New(l.PerIPBurst, l.PerIPRefill, cfg.Now),
	}
}

// Enrollment is a pending TOTP: what the user's authenticator app needs.
// It holds the secret: never log it.
type Enrollment struct {
	Secret string // base32, for manual entry
	URI    string // otpauth://totp/…
	QRPNG  []byte // the URI as a QR code, PNG
}

func (e Enrollment) String() string { return "Enrollment(REDACTED)" }

// BeginTOTP starts (or restarts) a TOTP enrollment: a fresh secret,
// sealed under the master key and stored pending until ConfirmTOTP.
// accountName labels the entry in the user's app (the username).
func (s *Service) BeginTOTP(ctx context.Context, userID, accountName string) (Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.cfg.Issuer, AccountName: accountName, Period: period, SecretSize: secretSize,
		Digits: digits, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: generate totp: %w", err)
	}
	sealed, err := s.sealer.Seal(sealPurpose, userID, []byte(key.Secret()))
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: seal totp secret: %w", err)
	}
	err = s.st.PutPendingTOTP(ctx, store.TOTP{UserID: userID, SealedSecret: sealed, CreatedAt: s.now()})
	if errors.Is(err, store.ErrConflict) {
		return Enrollment{}, ErrAlreadyEnrolled
	}
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: store totp: %w", err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, fmt.Errorf("mfa: qr code: %w", err)
	}
	return Enrollment{Secret: key.Secret(), URI: key.URL(), QRPNG: buf.Bytes()}, nil
}

// ConfirmTOTP activates the user's pending TOTP if code is right for it,
// and returns the user's new recovery codes (any older ones are
// replaced). The accepted step is recorded, so the confirming code cannot
// log in again.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string, ip netip.Addr) ([]string, error) {
	fail, err := s.take(ctx, userID, ip)
	if err != nil {
		return nil, err
	}
	t, err := s.st.TOTPByUser(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotEnrolled
	case err != nil:
		return nil, fmt.Errorf("mfa: %w", err)
	case !t.ConfirmedAt.IsZero():
		return nil, ErrAlreadyEnrolled
	}
	step, err := s.match(userID, t, code)
	if err != nil {
		fail()
		s.failed(ctx, userID, TOTP, ip, err)
		return nil, err
	}
	texts, recs, err := s.newCodes()
	if err != nil {
		return nil, err
	}
	if err := s.st.ConfirmTOTP(ctx, userID, t.SealedSecret, step, s.now(), recs); err != nil {
		if errors.Is(err, store.ErrStale) {
			return nil, ErrNotEnrolled // replaced or confirmed meanwhile
		}
		return nil, fmt.Errorf("mfa: confirm totp: %w", err)
	}
	s.changed(ctx, userID, event.ActionTOTPEnroll, TOTP)
	return texts, nil
}

// RemoveTOTP removes the user's TOTP (pending or confirmed). last reports
// that the user has no second factor left; their recovery codes are then
// removed too, since they recover nothing.
func (s *Service) RemoveTOTP(ctx context.Context, userID string) (last bool, err error) {
	if err := s.st.DeleteTOTP(ctx, userID); errors.Is(err, store.ErrNotFound) {
		return false, ErrNotEnrolled
	} else if err != nil {
		return false, fmt.Errorf("mfa: remove totp: %w", err)
	}
	s.changed(ctx, userID, event.ActionTOTPRemove, TOTP)
	has, err := s.HasFactor(ctx, userID)
	if err != nil {
		return false, err
	}
	if has {
		return false, nil
	}
	if err := s.st.ReplaceRecoveryCodes(ctx, userID, nil); err != nil {
		return true, fmt.Errorf("mfa: remove recovery codes: %w", err)
	}
	return true, nil
}

// Reset removes every second factor of the user (an admin reset).
func (s *Service) Reset(ctx context.Context, userID string) error {
	if err := s.st.DeleteFactors(ctx, userID); err != nil {
		return fmt.Errorf("mfa: reset: %w", err)
	}
	return nil
}

// HasFactor reports whether the user has a second factor (a confirmed
// TOTP or any other Factor); recovery codes alone are none.
func (s *Service) HasFactor(ctx context.Context, userID string) (bool, error) {
	t, err := s.st.TOTPByUser(ctx, userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("mfa: %w", err)
	}
	if err == nil && !t.ConfirmedAt.IsZero() {
		return true, nil
	}
	for _, f := range s.cfg.Factors {
		ok, err := f.Enrolled(ctx, userID)
		if err != nil {
			return false, fmt.Errorf("mfa: %s: %w", f.Method(), err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// Status is a user's second factors, for GET /v1/mfa.
type Status struct {
	TOTP              bool // confirmed
	TOTPPending       bool // enrollment started, not confirmed
	TOTPConfirmedAt   time.Time
	RecoveryCodesLeft int
	// Methods are what a login would ask for, in this order: totp, the
	// other factors' methods, recovery_code.
	Methods []Method
}

// Status returns the user's second factors.
func (s *Service) Status(ctx context.Context, userID string) (Status, error) {
	var st Status
	t, err := s.st.TOTPByUser(ctx, userID)
	switch {
	case err == nil:
		st.TOTP, st.TOTPPending, st.TOTPConfirmedAt = !t.ConfirmedAt.IsZero(), t.ConfirmedAt.IsZero(), t.ConfirmedAt
	case !errors.Is(err, store.ErrNotFound):
		return Status{}, fmt.Errorf("mfa: %w", err)
	}
	if st.TOTP {
		st.Methods = append(st.Methods, TOTP)
	}
	for _, f := range s.cfg.Factors {
		ok, err := f.Enrolled(ctx, userID)
		if err != nil {
			return Status{}, fmt.Errorf("mfa: %s: %w", f.Method(), err)
		}
		if ok {
			st.Methods = append(st.Methods, f.Method())
		}
	}
	if st.RecoveryCodesLeft, err = s.st.CountRecoveryCodes(ctx, userID); err != nil {
		return Status{}, fmt.Errorf("mfa: %w", err)
	}
	if len(st.Methods) > 0 && st.RecoveryCodesLeft > 0 {
		st.Methods = append(st.Methods, RecoveryCode)
	}
	return st, nil
}

// Methods returns the second-factor methods the user can use now
// (Status.Methods); empty if they have no factor.
func (s *Service) Methods(ctx context.Context, userID string) ([]Method, error) {
	st, err := s.Status(ctx, userID)
	return st.Methods, err
}

// RegenerateRecoveryCodes replaces the user's recovery codes with fresh
// ones and returns them; ErrNotEnrolled if the user has no factor.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	has, err := s.HasFactor(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, ErrNotEnrolled
	}
	texts, recs, err := s.newCodes()
	if err != nil {
		return nil, err
	}
	if err := s.st.ReplaceRecoveryCodes(ctx, userID, recs); err != nil {
		return nil, fmt.Errorf("mfa: replace recovery codes: %w", err)
	}
	s.changed(ctx, userID, event.ActionRecoveryRegenerate, RecoveryCode)
	return texts, nil
}

// Verify checks a code of method m (TOTP or RecoveryCode) for the user
// at ip and, if it is right, uses it up: a TOTP step is recorded (a
// conditional update: on two nodes at once, one wins), a recovery code
// is spent (atomically). Failures are throttled per user and per IP.
func (s *Service) Verify(ctx context.Context, userID string, m Method, code string, ip netip.Addr) (Proof, error) {
	if m != TOTP && m != RecoveryCode {
		return Proof{}, ErrMethod
	}
	fail, err := s.take(ctx, userID, ip)
	if err != nil {
		s.publish(ctx, event.Event{Kind: event.MFAFailed, UserID: userID, Method: string(m), IP: ip, Reason: event.ReasonThrottled})
		return Proof{}, err
	}
	var p Proof
	if m == TOTP {
		p, err = s.verifyTOTP(ctx, userID, code)
	} else {
		p, err = s.useRecoveryCode(ctx, userID, code)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrInvalidCode), errors.Is(err, ErrReplay), errors.Is(err, ErrNotEnrolled):
		fail()
		s.failed(ctx, userID, m, ip, err)
	default:
		// the store could not answer: not the user's failure
	}
	return p, err
}

func (s *Service) verifyTOTP(ctx context.Context, userID, code string) (Proof, error) {
	t, err := s.st.TOTPByUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || err == nil && t.ConfirmedAt.IsZero() {
		return Proof{}, ErrNotEnrolled
	}
	if err != nil {
		return Proof{}, fmt.Errorf("mfa: %w", err)
	}
	step, err := s.match(userID, t, code)
	if err != nil {
		return Proof{}, err
	}
	if step <= t.LastStep {
		return Proof{}, ErrReplay
	}
	// The step read above may be stale: another node may have accepted
	// this code since. The conditional update decides.
	if err := s.st.AdvanceTOTPStep(ctx, userID, step); errors.Is(err, store.ErrStale) {
		return Proof{}, ErrReplay
	} else if errors.Is(err, store.ErrNotFound) {
		return Proof{}, ErrNotEnrolled // removed meanwhile
	} else if err != nil {
		return Proof{}, fmt.Errorf("mfa: %w", err)
	}
	return Proof{Method: TOTP, AMR: []string{AMROTP}}, nil
}

// match returns the time step within ±Skew of now whose code is code.
// Every candidate step is computed and compared in constant time
// (hotp.ValidateCustom), whether or not an earlier one matched.
func (s *Service) match(userID string, t store.TOTP, code string) (int64, error) {
	code = strings.TrimSpace(code)
	if len(code) != digits.Length() || strings.Trim(code, "0123456789") != "" {
		return 0, ErrInvalidCode
	}
	secret, err := s.sealer.Open(sealPurpose, userID, t.SealedSecret)
	if err != nil {
		return 0, fmt.Errorf("mfa: open totp secret: %w", err)
	}
	now := s.now().Unix() / period
	matched := int64(-1)
	opts := hotp.ValidateOpts{Digits: digits, Algorithm: otp.AlgorithmSHA1}
	for step := now - int64(s.cfg.Skew); step <= now+int64(s.cfg.Skew); step++ {
		if step < 0 {
			continue
		}
		ok, err := hotp.ValidateCustom(code, uint64(step), string(secret), opts)
		if err != nil {
			return 0, fmt.Errorf("mfa: totp: %w", err)
		}
		if ok {
			matched = step
		}
	}
	if matched < 0 {
		return 0, ErrInvalidCode
	}
	return matched, nil
}

func (s *Service) useRecoveryCode(ctx context.Context, userID, code string) (Proof, error) {
	norm, ok := normalizeCode(code)
	if !ok {
		return Proof{}, ErrInvalidCode
	}
	err := s.st.UseRecoveryCode(ctx, userID, sha256.Sum256([]byte(norm)), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return Proof{}, ErrInvalidCode // wrong, used, or another user's
	}
	if err != nil {
		return Proof{}, fmt.Errorf("mfa: %w", err)
	}
	return Proof{Method: RecoveryCode, AMR: []string{AMROTP}}, nil
}

// Recovery codes: 20 characters of the RFC 4648 base32 alphabet (100
// bits from crypto/rand), shown in groups of five. High entropy makes a
// plain SHA-256 a sufficient hash at rest: there is nothing to guess.
const codeChars = 20

var codeEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newCodes returns fresh recovery codes as shown to the user and as stored.
func (s *Service) newCodes() ([]string, []store.RecoveryCode, error) {
	now := s.now()
	texts := make([]string, 0, s.cfg.RecoveryCodes)
	recs := make([]store.RecoveryCode, 0, s.cfg.RecoveryCodes)
	for range s.cfg.RecoveryCodes {
		var b [codeChars * 5 / 8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, nil, fmt.Errorf("mfa: %w", err)
		}
		norm := codeEncoding.EncodeToString(b[:])
		texts = append(texts, norm[0:5]+"-"+norm[5:10]+"-"+norm[10:15]+"-"+norm[15:20])
		recs = append(recs, store.RecoveryCode{Hash: sha256.Sum256([]byte(norm)), CreatedAt: now})
	}
	return texts, recs, nil
}

// normalizeCode accepts a recovery code as shown, in any case, with or
// without its dashes and spaces.
func normalizeCode(code string) (string, bool) {
	code = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
	if len(code) != codeChars {
		return "", false
	}
	if _, err := codeEncoding.DecodeString(code); err != nil {
		return "", false
	}
	return code, true
}

// take admits an attempt while the user's and the address's buckets
// both hold a token, taking none: only failures drain them (throttle), so
// attempts in flight never refuse each other. fail takes one from each:
// the attempt was the user's failure.
func (s *Service) take(ctx context.Context, userID string, ip netip.Addr) (fail func(), err error) {
	uk, ik := "u:"+userID, throttle.IPKey(ip)
	if ok, wait := s.perUser.Allow(ctx, uk); !ok {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	if ok, wait := s.perIP.Allow(ctx, ik); !ok {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	return func() { s.perUser.Fail(ctx, uk); s.perIP.Fail(ctx, ik) }, nil
}

func (s *Service) failed(ctx context.Context, userID string, m Method, ip netip.Addr, err error) {
	reason := event.ReasonBadCode
	if errors.Is(err, ErrReplay) {
		reason = event.ReasonReplay
	}
	s.publish(ctx, event.Event{Kind: event.MFAFailed, UserID: userID, Method: string(m), IP: ip, Reason: reason})
}

func (s *Service) changed(ctx context.Context, userID, action string, m Method) {
	s.publish(ctx, event.Event{Kind: event.FactorChanged, UserID: userID, Action: action, Method: string(m)})
}

func (s *Service) publish(ctx context.Context, e event.Event) {
	if s.cfg.Events != nil {
		e.At = s.now()
		s.cfg.Events.Publish(ctx, e)
	}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
