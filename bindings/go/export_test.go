package tokenforge

// LiveHandles is the number of runtime/cgo handles the library still holds (tests only).
func LiveHandles() int64 { return liveHandles.Load() }

// LiveObjects is the number of C objects the package owns and has not freed (tests only).
func LiveObjects() int64 { return liveObjects.Load() }
