"""The `com.atproto.sync.subscribeRepos` event stream: frames, typed events, limits, verification."""
