// Package eventtest records domain events for tests.
package eventtest
