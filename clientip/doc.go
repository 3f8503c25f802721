// Package clientip finds the address of the client behind a request: the TCP
// peer, or what trusted reverse proxies say in X-Forwarded-For or Forwarded.
package clientip
