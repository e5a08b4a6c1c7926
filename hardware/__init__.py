"""Device drivers, fakes and QR decoding for the gate checkpoint kiosk.

Nothing here opens hardware at import time: devices are built from
configuration and passed in (gpiozero style), every device is a context
manager whose ``close()`` may be called twice, and each real device has an
in-package fake with test hooks, swapped in by configuration.

Modules
-------
camera
    ``OpenCVCamera`` (USB/V4L2/RTSP/file; newest-frame grabber thread, bounded
    backoff reopen, ``health``), ``FolderCamera`` and ``FrameListCamera``
    (simulated, with ``unplug()``/``replug()``), ``open_camera(spec)``.
decoder
    ``Decoder`` protocol, ``ZxingDecoder``, ``ZbarDecoder``,
    ``make_decoder(name)`` and ``DEFAULT_DECODER`` (chosen by bench/decoders.py).
debounce
    ``Debouncer``: report a held code once; again after ``gone_s`` absence or
    ``repeat_s``.
frames
    Synthetic camera frames with real segno QR codes: ``render_qr``,
    ``compose_frame``, ``make_corpus``.
thermometer
    ``MLX90614`` (I2C), ``FakeSMBus``, ``FakeThermometer``,
    ``ManualThermometer``, ``measure()`` -> ``Measurement``,
    ``ProximityTrigger``.
signals
    ``Signals``/``make_signals``: LEDs, buzzer, gate relay, button via gpiozero.
audio
    ``speak_to_wav`` (espeak-ng), ``AplayAudio`` (ALSA aplay), ``FakeAudio``
    (records what was played): the lanes' spoken prompts.
scanner
    Keyboard-wedge barcode scanners: ``StreamScanner``, ``EvdevScanner``.
cli
    The ``decode`` click command registered by ``kiosk/cli.py``.
"""
