package server

// Drain prepares the server to stop: open revocation-feed long polls
// answer now with what the feed holds, and later ones without waiting, so
// a graceful shutdown is not held for their wait and followers move to
// another node at once. Register it with http.Server.RegisterOnShutdown.
func (s *Server) Drain() {
	if s.feed != nil {
		s.feed.Drain()
	}
}
