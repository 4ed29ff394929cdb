package auth_test

import (
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func TestEmailLinks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		invite := auth.EmailLink{Kind: auth.LinkInvite, Email: "new@kitamachi-hp.jp", OrgID: f.hosp.ID, Role: auth.RoleStaff, CreatedBy: f.admin.ID}
		raw, err := auth.CreateLink(ctx, d, invite, auth.InviteTTL, t0)
		must(t, err)
		if n := count(t, d, `SELECT COUNT(*) FROM email_tokens WHERE token_hash = ?`, raw); n != 0 {
			t.Fatal("raw link token stored")
		}

		l, err := auth.PeekLink(ctx, d, auth.LinkInvite, raw, t0.Add(time.Hour))
		must(t, err)
		if l.Email != invite.Email || l.OrgID != f.hosp.ID || l.Role != auth.RoleStaff || l.CreatedBy != f.admin.ID || !l.ExpiresAt.Equal(t0.Add(auth.InviteTTL)) || l.UsedAt != nil {
			t.Fatalf("PeekLink: %+v", l)
		}
		_, err = auth.UseLink(ctx, d, auth.LinkReset, raw, t0.Add(time.Hour))
		wantAppErr(t, err, apperr.NotFound, "auth.link.invalid", "")

		pending, err := auth.PendingInvites(ctx, d, principal(t, d, f.admin, f.hosp), f.hosp.ID, t0)
		must(t, err)
		if len(pending) != 1 || pending[0].Email != invite.Email {
			t.Fatalf("PendingInvites: %+v", pending)
		}
		_, err = auth.PendingInvites(ctx, d, principal(t, d, f.other, f.clinic), f.hosp.ID, t0)
		wantNotFound(t, err)

		used, err := auth.UseLink(ctx, d, auth.LinkInvite, raw, t0.Add(2*time.Hour))
		must(t, err)
		if used.UsedAt == nil || !used.UsedAt.Equal(t0.Add(2*time.Hour)) || used.Email != invite.Email {
			t.Fatalf("UseLink: %+v", used)
		}
		_, err = auth.UseLink(ctx, d, auth.LinkInvite, raw, t0.Add(2*time.Hour))
		wantAppErr(t, err, apperr.Invalid, "auth.link.used", "")
		_, err = auth.PeekLink(ctx, d, auth.LinkInvite, raw, t0.Add(3*time.Hour))
		wantAppErr(t, err, apperr.Invalid, "auth.link.used", "")
		if pending, _ := auth.PendingInvites(ctx, d, principal(t, d, f.admin, f.hosp), f.hosp.ID, t0); len(pending) != 0 {
			t.Fatalf("used invitation still pending: %+v", pending)
		}

		reset := auth.EmailLink{Kind: auth.LinkReset, Email: f.staff.Email, UserID: f.staff.ID}
		raw, err = auth.CreateLink(ctx, d, reset, auth.ResetTTL, t0)
		must(t, err)
		_, err = auth.UseLink(ctx, d, auth.LinkReset, raw, t0.Add(auth.ResetTTL))
		wantAppErr(t, err, apperr.Invalid, "auth.link.expired", "")
		if l, err := auth.PeekLink(ctx, d, auth.LinkReset, raw, t0.Add(auth.ResetTTL-time.Second)); err != nil || l.UserID != f.staff.ID {
			t.Fatalf("a second before expiry: %+v %v", l, err)
		}

		for _, bad := range []string{"", "nonsense", raw + "x", auth.HashToken(raw), string(make([]byte, 101))} {
			_, err := auth.UseLink(ctx, d, auth.LinkReset, bad, t0)
			wantAppErr(t, err, apperr.NotFound, "auth.link.invalid", "")
		}
	})
}

func TestUseLinkConcurrent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		for round := 0; round < 3; round++ {
			raw, err := auth.CreateLink(ctx, d, auth.EmailLink{Kind: auth.LinkReset, Email: f.staff.Email, UserID: f.staff.ID}, auth.ResetTTL, t0)
			must(t, err)
			const workers = 8
			var wg sync.WaitGroup
			errs := make([]error, workers)
			start := make(chan struct{})
			for i := 0; i < workers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = auth.UseLink(ctx, d, auth.LinkReset, raw, t0.Add(time.Minute))
				}()
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
					continue
				}
				if ae := apperr.From(err); ae.Key != "auth.link.used" {
					t.Fatalf("concurrent use failed with %v, want auth.link.used", err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d concurrent uses succeeded, want exactly 1", round, ok)
			}
		}
	})
}
