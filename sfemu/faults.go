package sfemu

import (
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
)

// Fault names accepted by POST /emulator/faults (docs/emulator.md); package faults owns them.
const (
	FaultUnknownClient     = faults.UnknownClient
	FaultRevokeTokens      = faults.RevokeTokens
	FaultServerBusy        = faults.ServerBusy
	FaultServerDisconnect  = faults.ServerDisconnect
	FaultDropConnection    = faults.DropConnection
	FaultHTTPError         = faults.HTTPError
	FaultMalformedResponse = faults.MalformedResponse
	FaultSlowResponse      = faults.SlowResponse
	FaultDailyLimit        = faults.DailyLimit
	FaultSubscribeError    = faults.SubscribeError
	FaultClear             = faults.Clear
)

// FaultRequest is the body of POST /emulator/faults.
type FaultRequest = faults.Request

// InjectFault applies a fault as POST /emulator/faults does: the fault set records it, the faults that act on
// other owners (CometD sessions, the session store) are applied to them, and held requests are woken.
func (s *Server) InjectFault(req FaultRequest) error {
	if err := s.faults.Apply(req); err != nil {
		return err
	}
	s.store.Lock()
	defer s.store.Unlock()
	switch req.Fault {
	case FaultUnknownClient:
		s.cometd.ForgetClientsLocked(FaultUnknownClient) // the load balancer routes elsewhere: a new sfdc-stream cookie
	case FaultRevokeTokens:
		s.tokens.RevokeAll()
	}
	s.counters.faults.Add(1)
	// Held long polls re-check their state: a revoked token, a server disconnect, a dropped connection or the
	// daily limit answers them now rather than after the hold. Under mu: a held request either saw the fault or
	// holds the channel this closes.
	s.faults.Wake()
	return nil
}
