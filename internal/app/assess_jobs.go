package app

import (
	"context"

	"github.com/medisac/medisac/internal/assess"
)

// assessReminders is the periodic job that reminds vendors of open
// checklist requests that are due within a week or overdue.
func (n *Node) assessReminders(ctx context.Context) error {
	reg, err := assess.NewRegistry()
	if err != nil {
		return err
	}
	m := assess.VendorMail{Mailer: n.Mailer, Catalog: mustCatalog(), BaseURL: n.Cfg.BaseURL}
	sent, err := assess.SendVendorReminders(ctx, n.DB, reg, m, n.now())
	if sent > 0 {
		n.Queue.Notify()
		n.Logger.Info("assess vendor reminders", "sent", sent)
	}
	return err
}
