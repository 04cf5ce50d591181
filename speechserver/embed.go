// Package speechserver carries the local speech server's program so that
// the callbrief binary can start it from anywhere: asr/speechd writes
// Program next to the server's venv in the cache and runs it there.
package speechserver

import _ "embed"

// Program is server.py, the OpenAI-compatible Whisper server.
//
//go:embed server.py
var Program []byte
