package clients

import "time"

// RecordRequest notes a gateway request made with one of the client's
// tokens: its last-used time moves on, written in the next usage flush (at
// most one store write per client per flush interval).
func (s *Service) RecordRequest(id string, at time.Time) { s.addUsage(id, 0, at) }
