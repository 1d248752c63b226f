// Package store owns Gatehouse's records, the small per-domain interfaces
// that persist them, and the sentinel errors every backend returns.
//
// Each atomic rule is one method: a read-modify-write such as a client-secret
// rotation is UpdateClient with a mutate function, run by the backend in one
// transaction, never a transaction carried in a context. Every admin mutation
// takes the audit Event that records it and writes both in that transaction.
package store
