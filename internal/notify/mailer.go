// Package notify sends medisac's e-mail.
//
// Every message is first written to the mail_outbox table, in the caller's
// transaction, so that mail about a change exists exactly when the change
// commits. With SMTP configured, the same transaction enqueues a
// "mail.send" job (internal/jobs) that delivers the message and is retried
// with backoff while the server is unreachable; the outbox row records when
// it was sent or why it failed. Without SMTP (demo mode), messages stay in
// the outbox, where an outbox page shows them.
//
// Messages are plain text in UTF-8, sent base64-encoded with RFC 2047
// encoded subjects so that Japanese arrives intact through any server.
// Header injection is refused: an address or subject containing a line
// break is an error, never a new header.
package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/jobs"
)

// JobKind is the job kind that delivers one outbox message over SMTP.
const JobKind = "mail.send"

// The values of Stored.Delivery.
const (
	DeliveryOutbox = "outbox" // kept for the outbox page; not sent
	DeliverySMTP   = "smtp"   // sent, or to be sent, over SMTP
)

// Mailer stores and sends e-mail. It is safe for concurrent use.
type Mailer struct {
	d    *db.DB
	q    *jobs.Queue
	cfg  *SMTPConfig
	from *mail.Address
	now  func() time.Time
}

// NewMailer returns a mailer on d. With cfg nil, messages stay in the
// outbox; otherwise cfg is validated (see SMTPConfig.Validate) and a
// "mail.send" handler is registered with q, which must then run somewhere
// for mail to leave. now is the clock (time.Now when nil).
func NewMailer(d *db.DB, q *jobs.Queue, cfg *SMTPConfig, now func() time.Time) (*Mailer, error) {
	if now == nil {
		now = time.Now
	}
	m := &Mailer{d: d, q: q, now: now}
	if cfg == nil {
		return m, nil
	}
	c := *cfg
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if q == nil {
		return nil, errors.New("notify: SMTP needs a job queue")
	}
	from, err := parseAddress(c.From, "smtp_from")
	if err != nil {
		return nil, err
	}
	m.cfg, m.from = &c, from
	q.Register(JobKind, m.deliverJob)
	return m, nil
}

// SMTP reports whether messages are sent over SMTP (false: outbox only).
func (m *Mailer) SMTP() bool { return m.cfg != nil }

type sendPayload struct {
	ID string `json:"id"`
}

// Send stores msg and, with SMTP configured, enqueues its delivery, both in
// tx (a *db.Tx to tie the message to the caller's change, or nil). It
// returns the message id, or an apperr Invalid error when the recipient or
// subject is unusable (including any line break in them). Given a *db.Tx,
// the delivery job is found at the queue's next poll after the commit;
// callers that want it sooner call Queue.Notify after committing.
func (m *Mailer) Send(ctx context.Context, tx db.Querier, msg Message) (string, error) {
	if _, err := msg.check(); err != nil {
		return "", err
	}
	id := db.NewID()
	delivery := DeliveryOutbox
	if m.cfg != nil {
		delivery = DeliverySMTP
	}
	store := func(q db.Querier) error {
		if _, err := q.Exec(ctx, `INSERT INTO mail_outbox (id, org_id, to_addr, subject, body, created_at, delivery)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, msg.OrgID, msg.To, msg.Subject, msg.Body, m.now(), delivery); err != nil {
			return fmt.Errorf("notify: store message: %w", err)
		}
		if m.cfg == nil {
			return nil
		}
		jobID, err := m.q.Enqueue(ctx, q, JobKind, sendPayload{ID: id},
			jobs.MaxAttempts(m.cfg.MaxAttempts), jobs.UniqueKey("mail:"+id))
		if err != nil {
			return err
		}
		_, err = q.Exec(ctx, `UPDATE mail_outbox SET job_id = ? WHERE id = ?`, jobID, id)
		return err
	}
	if t, ok := tx.(*db.Tx); ok {
		return id, store(t)
	}
	if err := m.d.InTx(ctx, func(t *db.Tx) error { return store(t) }); err != nil {
		return "", err
	}
	if m.q != nil && m.cfg != nil {
		m.q.Notify()
	}
	return id, nil
}

// deliverJob is the "mail.send" handler.
func (m *Mailer) deliverJob(ctx context.Context, payload []byte) error {
	var p sendPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return jobs.Permanent(fmt.Errorf("bad mail.send payload: %w", err))
	}
	s, err := m.Get(ctx, "", p.ID)
	if errors.Is(err, db.ErrNotFound) || apperr.Is(err, apperr.NotFound) {
		return jobs.Permanent(fmt.Errorf("message %s no longer exists", p.ID))
	}
	if err != nil {
		return err
	}
	if !s.SentAt.IsZero() {
		return nil
	}
	if m.cfg == nil {
		return jobs.Permanent(errors.New("SMTP is not configured on this node"))
	}
	msg := Message{OrgID: s.OrgID, To: s.To, Subject: s.Subject, Body: s.Body}
	raw, err := build(m.from, msg, s.ID, s.CreatedAt)
	if err != nil {
		return jobs.Permanent(err)
	}
	to, _ := msg.check()
	sendErr := m.cfg.deliver(ctx, envelope(m.from), envelope(to), raw)

	wctx := context.WithoutCancel(ctx)
	now := m.now()
	if sendErr == nil {
		_, err := m.d.Exec(wctx, `UPDATE mail_outbox SET sent_at = ?, failed_at = NULL, last_error = '', attempts = attempts + 1, delivery = 'smtp'
			WHERE id = ?`, now, s.ID)
		return err
	}
	run, _ := jobs.Current(ctx)
	var failedAt any
	if jobs.IsPermanent(sendErr) || run.LastAttempt() {
		failedAt = now
	}
	if _, err := m.d.Exec(wctx, `UPDATE mail_outbox SET last_error = ?, attempts = attempts + 1, failed_at = ? WHERE id = ?`,
		sendErr.Error(), failedAt, s.ID); err != nil {
		return errors.Join(sendErr, err)
	}
	return sendErr
}

// Stored is a message in the outbox with its delivery state.
type Stored struct {
	ID        string
	OrgID     string
	To        string
	Subject   string
	Body      string
	CreatedAt time.Time
	Delivery  string    // DeliveryOutbox or DeliverySMTP
	SentAt    time.Time // zero until delivered over SMTP
	FailedAt  time.Time // set when delivery was given up
	JobID     string
	Attempts  int
	LastError string
}

// Status is "outbox" (not sent: demo mode), "sent", "failed" or "pending".
func (s Stored) Status() string {
	switch {
	case s.Delivery == DeliveryOutbox:
		return "outbox"
	case !s.SentAt.IsZero():
		return "sent"
	case !s.FailedAt.IsZero():
		return "failed"
	}
	return "pending"
}

const storedColumns = `id, org_id, to_addr, subject, body, created_at, delivery, sent_at, failed_at, job_id, attempts, last_error`

func scanStored(r interface{ Scan(...any) error }) (Stored, error) {
	var s Stored
	var sent, failed sql.NullTime
	if err := r.Scan(&s.ID, &s.OrgID, &s.To, &s.Subject, &s.Body, &s.CreatedAt, &s.Delivery, &sent, &failed,
		&s.JobID, &s.Attempts, &s.LastError); err != nil {
		return s, db.ScanErr(err)
	}
	s.SentAt, s.FailedAt = sent.Time, failed.Time
	return s, nil
}

// Outbox returns the newest messages of organisation orgID, or of every
// organisation when orgID is "" (operators only: the caller checks), at
// most limit (default 50, at most 500).
func (m *Mailer) Outbox(ctx context.Context, orgID string, limit int) ([]Stored, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	query := `SELECT ` + storedColumns + ` FROM mail_outbox`
	var args []any
	if orgID != "" {
		query += ` WHERE org_id = ?`
		args = append(args, orgID)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	out, err := db.QueryAll(ctx, m.d, scanStored, query, args...)
	if err != nil {
		return nil, fmt.Errorf("notify: outbox: %w", err)
	}
	return out, nil
}

// Get returns message id of organisation orgID ("" = any organisation,
// operators only). A message of another organisation, like a missing one,
// is an apperr NotFound error.
func (m *Mailer) Get(ctx context.Context, orgID, id string) (Stored, error) {
	query := `SELECT ` + storedColumns + ` FROM mail_outbox WHERE id = ?`
	args := []any{id}
	if orgID != "" {
		query += ` AND org_id = ?`
		args = append(args, orgID)
	}
	s, err := scanStored(m.d.QueryRow(ctx, query, args...))
	if errors.Is(err, db.ErrNotFound) {
		return s, apperr.Wrap(err, apperr.NotFound, "mail.error.not_found")
	}
	if err != nil {
		return s, fmt.Errorf("notify: get message: %w", err)
	}
	return s, nil
}
