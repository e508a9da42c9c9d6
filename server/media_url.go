package server

// MediaURL is the signed URL of a session image under base (scheme and host), expiring after
// the configured MediaTTL, for the other faces of the service that show saved images: the
// console's session page (FM-SES-2, FM-CON-3).
func (s *Server) MediaURL(base, sessionID, kind string) string {
	return s.mediaURL(base, sessionID, kind, s.now().Add(s.cfg.MediaTTL).Unix())
}
