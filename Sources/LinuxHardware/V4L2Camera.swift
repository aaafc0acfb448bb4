import CShims
import CV4L2
import Glibc
import RobotCore

/// What the profile asks of a V4L2 camera. The driver may answer with something else (320×240 may
/// come back 320×180, 30 fps as 25): the camera accepts what it gets and reports it.
public struct CameraRequest: Sendable, Equatable {
    /// `/dev/videoN`, a stable `/dev/v4l/by-id/…` or `/dev/v4l/by-path/…` name, or `driver:NAME` /
    /// `card:TEXT` for the first capture device whose driver or card name matches.
    public var device: String
    public var width: Int
    public var height: Int
    public var framesPerSecond: Double
    /// Preferred pixel format: `grey`, `yuyv`, `mjpeg` (decoded by libv4lconvert) or nil for the
    /// cheapest to convert among what the device offers.
    public var format: String?
    /// Crop in source pixels (nil: the largest centred square, or the output's aspect ratio).
    public var crop: GrayResampler.Rect?
    /// mmap buffers, 2...4.
    public var buffers: Int
    /// How long one capture may wait for a frame that is about to arrive, ms (0: never wait).
    public var pollTimeoutMilliseconds: Int

    public init(
        device: String, width: Int = 320, height: Int = 240, framesPerSecond: Double = 30, format: String? = nil,
        crop: GrayResampler.Rect? = nil, buffers: Int = 3, pollTimeoutMilliseconds: Int = 0
    ) {
        self.device = device
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
        self.format = format
        self.crop = crop
        self.buffers = buffers
        self.pollTimeoutMilliseconds = pollTimeoutMilliseconds
    }
}

/// What the driver agreed to.
public struct NegotiatedFormat: Sendable, Equatable, CustomStringConvertible {
    public var devicePath: String
    public var driver: String
    public var card: String
    /// FOURCC the frames arrive in (after libv4l conversion, when `emulated`).
    public var pixelFormat: String
    /// True when libv4lconvert produces this format from the device's native one (e.g. MJPEG).
    public var emulated: Bool
    public var width: Int
    public var height: Int
    public var bytesPerLine: Int
    public var framesPerSecond: Double?
    public var buffers: Int
    public var crop: GrayResampler.Rect
    /// Luma arrives as 16…235 and is stretched to 0…255.
    public var limitedRange: Bool
    public var description: String {
        let fps = framesPerSecond.map { "\(($0 * 100).rounded() / 100) fps" } ?? "rate not settable"
        return "\(devicePath) (\(driver), \(card)): \(pixelFormat)\(emulated ? " via libv4lconvert" : "") \(width)×\(height)"
            + "\(limitedRange ? " limited range" : ""), \(fps), \(buffers) buffers, crop \(crop)"
    }
}

func fourcc(_ s: String) -> UInt32 {
    var v: UInt32 = 0
    for (i, b) in s.utf8.prefix(4).enumerated() { v |= UInt32(b) << (8 * UInt32(i)) }
    return v
}

/// "YUYV" from its code; big-endian variants (bit 31 set) get "-BE".
func fourccString(_ v: UInt32) -> String {
    let code = v & 0x7FFF_FFFF
    let s = String(decoding: (0..<4).map { UInt8((code >> (8 * UInt32($0))) & 0xFF) }, as: UTF8.self)
    return v & 0x8000_0000 != 0 ? s + "-BE" : s
}

/// A V4L2 capture device through libv4l2, streaming into 2–4 mmap buffers. Each `capture` takes the
/// newest filled buffer (older ones go straight back to the driver), converts it to the frame's gray
/// size with a precomputed resampler, and re-queues it. Buffers the driver flags as errors are
/// re-queued and skipped. A vanished device (ENODEV: unplugged, driver unbound) reports `.lost`; later
/// captures reopen it with exponential backoff (0.25 s … 4 s) and renegotiate — the one path that
/// allocates, and only while the camera is gone.
public final class V4L2Camera: FrameSource {
    public let request: CameraRequest
    public let width: Int
    public let height: Int
    public private(set) var format: NegotiatedFormat?
    private let clock: RobotClock
    private var fd: Int32 = -1
    private var mapped: [(pointer: UnsafeMutableRawPointer, length: Int)] = []
    private var resampler: GrayResampler?
    private var buffer = v4l2_buffer()
    private var pending = v4l2_buffer()
    private var sequence: UInt64 = 0
    private var lastDriverTimestamp: Instant?
    /// One frame at the negotiated rate (100 ms when the driver does not say).
    private var framePeriod: Duration = .milliseconds(100)
    private var retryAt: Instant?
    private var backoff: Duration = .milliseconds(250)
    // Counters for the summary and the tests.
    public private(set) var framesDelivered = 0
    public private(set) var errorBuffers = 0
    public private(set) var droppedForNewer = 0
    public private(set) var timestampAnomalies = 0
    /// Dequeue time minus the driver's timestamp at the last anomaly, ms (negative: in the future).
    public private(set) var lastAnomalyMilliseconds: Double?
    public private(set) var losses = 0
    public private(set) var reopens = 0
    public private(set) var lastOpenError: String?

    /// Opens and starts streaming; throws with the device and the reason when that fails.
    public init(request: CameraRequest, outputWidth: Int, outputHeight: Int, clock: RobotClock) throws {
        precondition((2...4).contains(request.buffers), "2...4 buffers")
        self.request = request
        width = outputWidth
        height = outputHeight
        self.clock = clock
        try open()
    }

    deinit { shutdown() }

    /// Capture devices on this machine: path, driver, card.
    public static func list() -> [(path: String, driver: String, card: String)] {
        var out: [(String, String, String)] = []
        for n in 0..<64 {
            let path = "/dev/video\(n)"
            guard access(path, F_OK) == 0 else { continue }
            guard let f = try? FileDescriptor.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC) else { continue }
            var cap = v4l2_capability()
            if case .success = f.control(CB_VIDIOC_QUERYCAP, &cap) {
                let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
                if caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 && caps & UInt32(V4L2_CAP_STREAMING) != 0 {
                    out.append((path, cString(fixed: cap.driver), cString(fixed: cap.card)))
                }
            }
            f.close()
        }
        return out
    }

    /// The pixel formats a capture device offers natively (FOURCC and the driver's description).
    public static func formats(path: String) -> [(fourcc: String, description: String)] {
        guard let f = try? FileDescriptor.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC) else { return [] }
        defer { f.close() }
        var out: [(String, String)] = []
        var desc = v4l2_fmtdesc()
        desc.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        while case .success = f.control(CB_VIDIOC_ENUM_FMT, &desc) {
            out.append((fourccString(desc.pixelformat), cString(fixed: desc.description)))
            desc.index += 1
        }
        return out
    }

    static func resolve(_ spec: String) throws -> String {
        for (prefix, byDriver) in [("driver:", true), ("card:", false)] where spec.hasPrefix(prefix) {
            let want = String(spec.dropFirst(prefix.count))
            let all = list()
            if let d = all.first(where: { byDriver ? $0.driver == want : $0.card.contains(want) }) { return d.path }
            throw HardwareError(
                message: "camera '\(spec)': no capture device matches; devices: "
                    + (all.isEmpty ? "none" : all.map { "\($0.path) (\($0.driver), \($0.card))" }.joined(separator: ", ")))
        }
        return spec
    }

    /// Layout of a pixel format this camera can convert, or nil.
    static func layout(of pixelFormat: UInt32) -> GrayResampler.Layout? {
        switch fourccString(pixelFormat) {
        case "GREY", "YU12", "YV12", "NV12", "NV21": .gray
        case "YUYV": .yuyv
        case "UYVY": .uyvy
        case "RGB3": .rgb24
        case "BGR3": .bgr24
        default: nil
        }
    }

    private func ioctl(_ request: UInt, _ arg: UnsafeMutableRawPointer, _ what: String, _ path: String) throws {
        if cb_v4l2_ioctl(fd, request, arg) != 0 {
            throw HardwareError(message: "\(path): \(what) failed", errno: .current)
        }
    }

    private func open() throws {
        let path = try V4L2Camera.resolve(request.device)
        fd = try FileDescriptor.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC) { cb_v4l2_open($0, $1) }.rawValue
        do { try negotiate(path: path) } catch {
            shutdown()
            throw error
        }
    }

    private func negotiate(path: String) throws {
        var cap = v4l2_capability()
        try ioctl(CB_VIDIOC_QUERYCAP, &cap, "VIDIOC_QUERYCAP", path)
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        guard caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 else { throw HardwareError(message: "\(path) is not a video capture device") }
        guard caps & UInt32(V4L2_CAP_STREAMING) != 0 else { throw HardwareError(message: "\(path) cannot stream (no mmap I/O)") }

        // What the device offers, through libv4l (emulated formats included).
        var offered: [(fourcc: UInt32, emulated: Bool)] = []
        var desc = v4l2_fmtdesc()
        desc.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        while cb_v4l2_ioctl(fd, CB_VIDIOC_ENUM_FMT, &desc) == 0 {
            offered.append((desc.pixelformat, desc.flags & UInt32(V4L2_FMT_FLAG_EMULATED) != 0))
            desc.index += 1
        }
        // Cheapest first: native gray, packed YUV, the Y plane of planar YUV, RGB. MJPEG cameras show up
        // here with libv4lconvert's emulated YU12 / RGB3.
        var order = ["GREY", "YUYV", "UYVY", "YU12", "NV12", "YV12", "NV21", "RGB3", "BGR3"]
        switch request.format?.lowercased() {
        case "grey", "gray": order.insert("GREY", at: 0)
        case "yuyv": order.insert("YUYV", at: 0)
        case "mjpeg", "mjpg", "jpeg": order = ["YU12", "RGB3", "BGR3"]
        case nil: break
        case let other?: throw HardwareError(message: "\(path): unknown format '\(other)' (grey, yuyv, mjpeg)")
        }
        guard let choice = order.lazy.compactMap({ name in offered.first { $0.fourcc == fourcc(name) } }).first else {
            throw HardwareError(
                message: "\(path) offers no format this driver converts: \(offered.map { fourccString($0.fourcc) }.joined(separator: ", "))"
            )
        }
        var fmt = v4l2_format()
        fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        fmt.fmt.pix.width = UInt32(request.width)
        fmt.fmt.pix.height = UInt32(request.height)
        fmt.fmt.pix.pixelformat = choice.fourcc
        fmt.fmt.pix.field = V4L2_FIELD_NONE.rawValue
        try ioctl(CB_VIDIOC_S_FMT, &fmt, "VIDIOC_S_FMT", path)
        guard let layout = V4L2Camera.layout(of: fmt.fmt.pix.pixelformat) else {
            throw HardwareError(
                message:
                    "\(path): the driver answered with format \(fourccString(fmt.fmt.pix.pixelformat)), which this driver does not convert")
        }
        let w = Int(fmt.fmt.pix.width), h = Int(fmt.fmt.pix.height)
        let bpl = max(Int(fmt.fmt.pix.bytesperline), w * layout.bytesPerPixel)

        // Frame rate: ask, then read back what the driver keeps.
        var parm = v4l2_streamparm()
        parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        var fps: Double?
        if cb_v4l2_ioctl(fd, CB_VIDIOC_G_PARM, &parm) == 0, parm.parm.capture.capability & UInt32(V4L2_CAP_TIMEPERFRAME) != 0 {
            parm.parm.capture.timeperframe = v4l2_fract(numerator: 1000, denominator: UInt32((request.framesPerSecond * 1000).rounded()))
            _ = cb_v4l2_ioctl(fd, CB_VIDIOC_S_PARM, &parm)
            if cb_v4l2_ioctl(fd, CB_VIDIOC_G_PARM, &parm) == 0, parm.parm.capture.timeperframe.numerator > 0 {
                fps = Double(parm.parm.capture.timeperframe.denominator) / Double(parm.parm.capture.timeperframe.numerator)
            }
        }

        // Luma range: YUV is limited range (16…235) unless the driver says full range or the colorspace is
        // JPEG's (MJPEG decoded by libv4lconvert); GREY and RGB are full range unless the driver says limited.
        let isYUV = layout == .yuyv || layout == .uyvy || ["YU12", "YV12", "NV12", "NV21"].contains(fourccString(fmt.fmt.pix.pixelformat))
        let q = fmt.fmt.pix.quantization
        let limited =
            q == UInt32(V4L2_QUANTIZATION_LIM_RANGE.rawValue)
            || (q == UInt32(V4L2_QUANTIZATION_DEFAULT.rawValue) && isYUV && fmt.fmt.pix.colorspace != UInt32(V4L2_COLORSPACE_JPEG.rawValue))
        let r: GrayResampler
        do {
            r = try GrayResampler(
                sourceWidth: w, sourceHeight: h, bytesPerLine: bpl, layout: layout, crop: request.crop,
                outputWidth: width, outputHeight: height, limitedRange: limited)
        } catch { throw HardwareError(message: "\(path): \(error.message)") }
        resampler = r

        var req = v4l2_requestbuffers()
        req.count = UInt32(request.buffers)
        req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        req.memory = V4L2_MEMORY_MMAP.rawValue
        try ioctl(CB_VIDIOC_REQBUFS, &req, "VIDIOC_REQBUFS", path)
        guard req.count >= 2 else { throw HardwareError(message: "\(path): the driver granted \(req.count) buffer(s); 2 are needed") }
        for i in 0..<req.count {
            var b = v4l2_buffer()
            b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            b.memory = V4L2_MEMORY_MMAP.rawValue
            b.index = i
            try ioctl(CB_VIDIOC_QUERYBUF, &b, "VIDIOC_QUERYBUF", path)
            guard let p = cb_v4l2_mmap(Int(b.length), fd, Int(b.m.offset)), p != UnsafeMutableRawPointer(bitPattern: -1) else {
                throw HardwareError(message: "\(path): mmap of buffer \(i) failed", errno: .current)
            }
            mapped.append((p, Int(b.length)))
            guard Int(b.length) >= r.minimumSourceBytes else {
                throw HardwareError(
                    message: "\(path): buffer \(i) holds \(b.length) bytes, a \(w)×\(h) image needs \(r.minimumSourceBytes)")
            }
            try ioctl(CB_VIDIOC_QBUF, &b, "VIDIOC_QBUF", path)
        }
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        try ioctl(CB_VIDIOC_STREAMON, &type, "VIDIOC_STREAMON", path)
        format = NegotiatedFormat(
            devicePath: path, driver: cString(fixed: cap.driver), card: cString(fixed: cap.card),
            pixelFormat: fourccString(fmt.fmt.pix.pixelformat),
            emulated: offered.first { $0.fourcc == fmt.fmt.pix.pixelformat }?.emulated ?? false,
            width: w, height: h, bytesPerLine: bpl, framesPerSecond: fps, buffers: Int(req.count), crop: r.crop,
            limitedRange: limited)
        framePeriod = fps.map { .seconds(double: 1 / max($0, 1)) } ?? .milliseconds(100)
        lastDriverTimestamp = nil
    }

    /// The device's controls (exposure, gain, driver-specific ones): name, id, type, range, current value.
    public func controls() -> [(name: String, id: UInt32, type: UInt32, minimum: Int32, maximum: Int32, value: Int32?)] {
        guard fd >= 0 else { return [] }
        var out: [(String, UInt32, UInt32, Int32, Int32, Int32?)] = []
        var q = v4l2_queryctrl()
        q.id = UInt32(V4L2_CTRL_FLAG_NEXT_CTRL)
        while cb_v4l2_ioctl(fd, CB_VIDIOC_QUERYCTRL, &q) == 0 {
            if q.flags & UInt32(V4L2_CTRL_FLAG_DISABLED) == 0 && q.type != UInt32(V4L2_CTRL_TYPE_CTRL_CLASS.rawValue) {
                var c = v4l2_control(id: q.id, value: 0)
                let v: Int32? = cb_v4l2_ioctl(fd, CB_VIDIOC_G_CTRL, &c) == 0 ? c.value : nil
                out.append((cString(fixed: q.name), q.id, q.type, q.minimum, q.maximum, v))
            }
            q.id |= UInt32(V4L2_CTRL_FLAG_NEXT_CTRL)
        }
        return out
    }

    /// Sets a control by its name as the driver reports it (e.g. "Exposure Time, Absolute"); a button
    /// control is pressed with any value.
    public func setControl(named name: String, to value: Int32) throws {
        guard let c = controls().first(where: { $0.name == name }) else {
            throw HardwareError(
                message:
                    "\(format?.devicePath ?? request.device): no control named '\(name)'; controls: "
                    + "\(controls().map(\.name).joined(separator: ", "))"
            )
        }
        var ctrl = v4l2_control(id: c.id, value: value)
        if cb_v4l2_ioctl(fd, CB_VIDIOC_S_CTRL, &ctrl) != 0 {
            throw HardwareError(
                message:
                    "\(format?.devicePath ?? request.device): setting '\(name)' to \(value) failed: \(Errno.current)")
        }
    }

    /// Stops streaming, unmaps and closes (safe to call twice).
    public func shutdown() {
        guard fd >= 0 else { return }
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        _ = cb_v4l2_ioctl(fd, CB_VIDIOC_STREAMOFF, &type)
        for m in mapped { _ = cb_v4l2_munmap(m.pointer, m.length) }
        mapped.removeAll()
        _ = cb_v4l2_close(fd)
        fd = -1
    }

    private func lost(_ now: Instant) -> CaptureResult {
        shutdown()
        losses += 1
        backoff = .milliseconds(250)
        retryAt = now + backoff
        return .failed(.lost)
    }

    public func capture(into frame: Frame) -> CaptureResult {
        let now = clock.now()
        if fd < 0 {
            // Lost: try again at the backoff time.
            guard let at = retryAt, now >= at else { return .failed(.lost) }
            do {
                try open()
                reopens += 1
                retryAt = nil
                lastOpenError = nil
            } catch {
                lastOpenError = "\(error)"
                backoff = min(backoff * 2, .seconds(4))
                retryAt = now + backoff
                return .failed(.lost)
            }
        }
        let device = FileDescriptor(rawValue: fd)
        switch device.poll(POLLIN, timeoutMilliseconds: Int32(request.pollTimeoutMilliseconds)) {
        case .failure(.interrupted), .success(0): return .noNewFrame
        case .failure(let e): return .failed(.io(errno: e))
        case .success(let events):
            if events & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && events & Int16(POLLIN) == 0 { return lost(now) }
        }

        // Dequeue everything ready; keep only the newest good buffer. Readiness is polled before each
        // dequeue, so no DQBUF ends in EAGAIN (which libv4l2 would print to stderr).
        var have = false
        while true {
            if have {
                guard case .success(let events) = device.poll(POLLIN, timeoutMilliseconds: 0), events & Int16(POLLIN) != 0 else { break }
            }
            pending = v4l2_buffer()
            pending.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            pending.memory = V4L2_MEMORY_MMAP.rawValue
            if cb_v4l2_ioctl(fd, CB_VIDIOC_DQBUF, &pending) != 0 {
                let e = errno
                if e == EAGAIN { break }
                // ENODEV, or EIO with the device node gone: unplugged or unbound.
                if e == ENODEV || (e == EIO && access(format?.devicePath ?? "", F_OK) != 0) { return lost(now) }
                return .failed(.io(errno: Errno(e)))
            }
            if pending.flags & UInt32(V4L2_BUF_FLAG_ERROR) != 0 {
                errorBuffers += 1
                if cb_v4l2_ioctl(fd, CB_VIDIOC_QBUF, &pending) != 0 { return lost(now) }
                continue
            }
            if have {
                droppedForNewer += 1
                if cb_v4l2_ioctl(fd, CB_VIDIOC_QBUF, &buffer) != 0 { return lost(now) }
            }
            buffer = pending
            have = true
        }
        guard have, let r = resampler else { return .noNewFrame }
        let m = mapped[Int(buffer.index)]
        let used = Int(buffer.bytesused) > 0 ? Int(buffer.bytesused) : m.length
        if used >= r.minimumSourceBytes {
            frame.pixels.withUnsafeMutableBufferPointer { dst in
                r.resample(UnsafeRawBufferPointer(start: m.pointer, count: m.length), into: dst)
            }
        } else {
            errorBuffers += 1
        }
        // Exposure time: the driver's monotonic timestamp if it has one that makes sense, else the dequeue time.
        let dequeued = clock.now()
        var stamp = dequeued
        if buffer.flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK) == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) {
            let t = Instant(nanoseconds: Int64(buffer.timestamp.tv_sec) * 1_000_000_000 + Int64(buffer.timestamp.tv_usec) * 1000)
            // Plausible: later than the driver's previous one, not older than a second, and not more than one
            // frame period in the future (vivid stamps a frame with its nominal time, which the emulated guest
            // can reach up to a period early); a stamp ahead of now is clamped to now.
            if t <= dequeued + framePeriod && dequeued - t < .seconds(1) && (lastDriverTimestamp.map { t > $0 } ?? true) {
                stamp = min(t, dequeued)
            } else {
                timestampAnomalies += 1
                lastAnomalyMilliseconds = (dequeued - t).inMilliseconds
            }
            lastDriverTimestamp = t
        } else {
            timestampAnomalies += 1
        }
        let good = used >= r.minimumSourceBytes
        if cb_v4l2_ioctl(fd, CB_VIDIOC_QBUF, &buffer) != 0 { return lost(now) }
        guard good else { return .noNewFrame }
        sequence += 1
        frame.timestamp = stamp
        frame.sequence = sequence
        frame.isValid = true
        framesDelivered += 1
        return .newFrame
    }
}
