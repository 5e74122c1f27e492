//! The TCP transport under every request: ureq's own, with the system calls that a token
//! fetch on a kept-alive connection does not need taken out. Through ureq's transport API
//! (`Connector` and `Transport`), so that ureq still does all of HTTP; this module only moves
//! bytes. Per request on a kept-alive connection it makes two system calls, as a raw socket
//! does: one `writev` for the request head and body (ureq hands them over separately, which
//! would send two packets and wake the server twice) and one `read`. Socket timeouts are set
//! again only when the one in force is more than [`SLACK`] longer than the time left, or less
//! than half of it (an early expiry just reads again), instead of before every read and write;
//! and a connection read from moments ago is not probed before it is reused.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle, Transport,
};

/// How much longer than the time left a socket timeout in force may be: a read or write can
/// end at most this much after its deadline.
const SLACK: Duration = Duration::from_millis(5);

/// A connection that gave us bytes this recently is taken to be open without a probe.
const FRESH: Duration = Duration::from_millis(1);

/// Opens TCP connections (for a chained transport, such as a CONNECT proxy's, it passes that
/// one on).
#[derive(Debug, Default)]
pub(crate) struct TcpConnector;

impl<In: Transport> Connector<In> for TcpConnector {
    type Out = Either<In, TcpTransport>;

    fn connect(&self, details: &ConnectionDetails, chained: Option<In>) -> Result<Option<Self::Out>, ureq::Error> {
        if chained.is_some() {
            return Ok(chained.map(Either::A));
        }
        let stream = connect(&details.addrs, details.timeout.not_zero().map(|d| *d))?;
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        let transport = TcpTransport {
            stream: Arc::new(stream),
            buffers,
            pending: Vec::new(),
            defer: true,
            read_timeout: None,
            write_timeout: None,
            last_read: None,
        };
        (details.register_shutdown)(Arc::downgrade(&transport.stream) as Weak<dyn ShutdownHandle>)?;
        Ok(Some(Either::B(transport)))
    }
}

/// Tries the addresses in turn, each with half the time left (the last with all of it).
fn connect(addrs: &[SocketAddr], timeout: Option<Duration>) -> Result<TcpStream, ureq::Error> {
    let start = Instant::now();
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        let result = match timeout {
            Some(total) => {
                let left = total.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(ureq::Error::Timeout(ureq::Timeout::Connect));
                }
                let share = if i + 1 == addrs.len() { left } else { (left / 2).max(Duration::from_millis(10)) };
                TcpStream::connect_timeout(addr, share)
            }
            None => TcpStream::connect(addr),
        };
        match result {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
            ureq::Error::Timeout(ureq::Timeout::Connect)
        }
        Some(e) => ureq::Error::Io(e),
        None => ureq::Error::ConnectionFailed,
    })
}

pub(crate) struct TcpTransport {
    /// Shared (weakly) with the agent's shutdown handle.
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    /// A request head held back to go out with the body in one write.
    pending: Vec<u8>,
    /// The next transmission is held back: it is the first since the last read.
    defer: bool,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    last_read: Option<Instant>,
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport").field("peer", &self.stream.peer_addr().ok()).finish_non_exhaustive()
    }
}

/// Sets a socket timeout when the one in force does not fit `want` (see the module doc).
fn arm(
    armed: &mut Option<Duration>,
    want: Option<Duration>,
    set: impl FnOnce(Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    let fits = match (*armed, want) {
        (None, None) => true,
        (Some(a), Some(w)) => a <= w + SLACK && a >= w / 2,
        _ => false,
    };
    if !fits {
        set(want)?;
        *armed = want;
    }
    Ok(())
}

fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

impl TcpTransport {
    /// Writes the held-back head and `more` (one `writev` unless the socket takes less).
    fn flush(&mut self, more_len: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let want = timeout.not_zero().map(|d| *d);
        let started = Instant::now();
        let stream = Arc::clone(&self.stream);
        arm(&mut self.write_timeout, want, |t| stream.set_write_timeout(t))?;
        let (mut head_done, mut more_done) = (0, 0);
        while head_done < self.pending.len() || more_done < more_len {
            let more = &self.buffers.output()[more_done..more_len];
            let slices = [IoSlice::new(&self.pending[head_done..]), IoSlice::new(more)];
            match (&*stream).write_vectored(&slices) {
                Ok(0) => return Err(ureq::Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(mut n) => {
                    let from_head = n.min(self.pending.len() - head_done);
                    head_done += from_head;
                    n -= from_head;
                    more_done += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if timed_out(&e) => {
                    // The timeout in force may be shorter than the time left: go on until
                    // the time is really up.
                    let left = want.map(|w| w.saturating_sub(started.elapsed()));
                    if left.is_some_and(|l| l.is_zero()) {
                        return Err(ureq::Error::Timeout(timeout.reason));
                    }
                    stream.set_write_timeout(left)?;
                    self.write_timeout = left;
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.pending.clear();
        Ok(())
    }
}

impl Transport for TcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        if self.defer && self.pending.is_empty() {
            // The first transmission since the last read is a request head (or a TLS
            // record of one): hold it back for the body, or for the read of the answer.
            self.defer = false;
            self.pending.extend_from_slice(&self.buffers.output()[..amount]);
            return Ok(());
        }
        self.flush(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        if !self.pending.is_empty() {
            self.flush(0, timeout.for_write())?;
        }
        let timeout = timeout.for_read();
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        let want = timeout.not_zero().map(|d| *d);
        let started = Instant::now();
        let stream = Arc::clone(&self.stream);
        arm(&mut self.read_timeout, want, |t| stream.set_read_timeout(t))?;
        let amount = loop {
            match (&*stream).read(self.buffers.input_append_buf()) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted || timed_out(&e) => {
                    let Some(w) = want else {
                        if e.kind() == io::ErrorKind::Interrupted {
                            return Err(e.into());
                        }
                        return Err(ureq::Error::Timeout(timeout.reason));
                    };
                    let left = w.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(ureq::Error::Timeout(timeout.reason));
                    }
                    stream.set_read_timeout(Some(left))?;
                    self.read_timeout = Some(left);
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.buffers.input_appended(amount);
        self.defer = true;
        self.last_read = Some(Instant::now());
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        if !self.pending.is_empty() {
            return false; // a request that never went out: do not reuse
        }
        if self.last_read.is_some_and(|t| t.elapsed() < FRESH) {
            return true;
        }
        // One non-blocking peek: nothing to read means open; an end, an error or bytes we
        // did not ask for mean the connection cannot be reused.
        let mut byte = 0u8;
        // SAFETY: the descriptor is this transport's open socket; the buffer is one writable
        // byte.
        let n = unsafe {
            libc::recv(self.stream.as_raw_fd(), (&mut byte as *mut u8).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT)
        };
        n < 0 && matches!(io::Error::last_os_error().kind(), io::ErrorKind::WouldBlock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The timeouts `arm` sets, starting from `armed`, for each wanted value in turn.
    fn sets(mut armed: Option<Duration>, wants: &[Option<Duration>]) -> Vec<Option<Duration>> {
        let mut set = Vec::new();
        for &w in wants {
            arm(&mut armed, w, |t| {
                set.push(t);
                Ok(())
            })
            .unwrap();
        }
        set
    }

    #[test]
    fn timeouts_are_set_again_only_when_the_one_in_force_does_not_fit() {
        let ms = |n| Some(Duration::from_millis(n));
        // Back-to-back requests with a 30 s deadline: set once.
        assert_eq!(sets(None, &[ms(30_000), ms(29_999), ms(30_000), ms(29_996)]), vec![ms(30_000)]);
        assert_eq!(sets(ms(30_000), &[ms(29_990)]), vec![ms(29_990)], "10 ms too long: set");
        // Less time left than the slack allows: set to what is left.
        assert_eq!(sets(ms(30_000), &[ms(100)]), vec![ms(100)]);
        // Far more time than the one in force (a short deadline before): set again.
        assert_eq!(sets(ms(100), &[ms(30_000)]), vec![ms(30_000)]);
        // Within the slack: kept.
        assert_eq!(sets(ms(104), &[ms(100)]), vec![]);
        // No deadline after one, and back.
        assert_eq!(sets(ms(100), &[None, None, ms(50)]), vec![None, ms(50)]);
    }
}
