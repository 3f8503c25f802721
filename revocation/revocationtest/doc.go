// Package revocationtest helps test code that reads the revocation feed:
// a store that signals each read of the feed, so a test can wait until a
// long poll or a follower has read (and found nothing) instead of
// sleeping, and a long poll run in the background.
package revocationtest
