// Package cluster owns what the nodes sharing one store agree on: the
// settings fixed for the whole cluster (issuer, public origin), checked at
// every start, and the leases that let one node at a time do the
// background work the cluster needs once.
package cluster
