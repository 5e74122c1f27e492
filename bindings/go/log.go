package tokenforge

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"log/slog"
	"strings"
)

// SetLogger sends the library's log lines (one per pipeline event: step, event, timings,
// HTTP status, attempt, error code and message; never a secret) to logger, at the most
// detailed of slog's Error, Warn, Info and Debug levels that logger is enabled for. Each
// record's message is "tokenforge " and the event (such as "tokenforge fetch_failed"); its
// attributes are the line's fields (step, event, took_ms, attempt, code, status, error, ...).
// nil goes back to the TOKENFORGE_LOG environment variable (lines on stderr). Process-wide;
// records come from whichever thread the event happened on, library threads included.
func SetLogger(logger *slog.Logger) error {
	if logger == nil {
		return takeError(uint32(C.tf_go_set_log_callback(0, 0)), nil)
	}
	level := 0
	for i, l := range []slog.Level{slog.LevelError, slog.LevelWarn, slog.LevelInfo, slog.LevelDebug} {
		if logger.Enabled(context.Background(), l) {
			level = i + 1
		}
	}
	if level == 0 {
		return takeError(uint32(C.tf_go_set_log_callback(0, 0)), nil)
	}
	h := newHandle(logger)
	return takeError(uint32(C.tf_go_set_log_callback(C.int(level), h)), nil)
}

//export tfGoLog
func tfGoLog(h C.uintptr_t, level C.int, line *C.char) {
	logger := handleValue(h).(*slog.Logger)
	defer func() { _ = recover() }() // a logger that panics loses its line, never the process
	text := C.GoString(line)
	attrs := logFields(text)
	event := "event"
	for _, a := range attrs {
		if a.Key == "event" {
			event = a.Value.String()
		}
	}
	lv := map[C.int]slog.Level{1: slog.LevelError, 2: slog.LevelWarn, 3: slog.LevelInfo, 4: slog.LevelDebug}[level]
	logger.LogAttrs(context.Background(), lv, "tokenforge "+event, attrs...)
}

// logFields parses a line's `key=value` fields (after its level word); values may be in
// double quotes with \" and \\ escaped.
func logFields(line string) []slog.Attr {
	var attrs []slog.Attr
	_, rest, _ := strings.Cut(line, " ")
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		key, after, ok := strings.Cut(rest, "=")
		if !ok || key == "" {
			break
		}
		var value string
		if strings.HasPrefix(after, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				b.WriteByte(after[i])
			}
			value, rest = b.String(), after[min(i+1, len(after)):]
		} else {
			value, rest, _ = strings.Cut(after, " ")
		}
		attrs = append(attrs, slog.String(key, value))
	}
	return attrs
}
