package clients

// MaxUnknown is how many unknown ids the cache remembers at most.
const MaxUnknown = maxUnknown

// CacheLen is the number of clients and of unknown ids cached, stale or not.
func (s *Service) CacheLen() (known, unknown int) { return s.entries().Len() }
