package app

import (
	"context"

	"github.com/medisac/medisac/internal/assess"
)

// assessReminders is the periodic job that reminds vendors of open
// checklist requests that are due within a week or overdue.
func (n *Node) assessReminders(ctx context.Context) error {
	sent, err := assess.SendVendorReminders(ctx, n.DB, n.Assess.Registry, n.Assess.Mail, n.now())
	if sent > 0 {
		n.Queue.Notify()
		n.Logger.Info("assess vendor reminders", "sent", sent)
	}
	return err
}
