"""librosa workload: a feature pipeline on a synthetic signal.

No audio files and no network: the signal is a deterministic mix of a chirp,
harmonic tones, clicks and seeded noise. STFT/iSTFT, mel spectrogram, MFCC,
onset strength/detection, beat tracking, zero crossings, delta/stack_memory
features, DTW and resampling (soxr).
"""
import numpy as np
import librosa

SR = 22050


def _signal():
    rng = np.random.default_rng(11)
    t = np.arange(int(2.0 * SR)) / SR
    y = 0.3 * np.sin(2 * np.pi * (220.0 + 200.0 * t) * t)
    y += 0.2 * np.sin(2 * np.pi * 440.0 * t) * (t > 0.7)
    clicks = np.zeros_like(t)
    clicks[(np.arange(0, t.size, SR // 4))] = 1.0
    y += np.convolve(clicks, np.hanning(64), mode="same")
    y += 0.01 * rng.normal(size=t.size)
    return y.astype(np.float32)


def main():
    y = _signal()
    out = {}
    S = librosa.stft(y, n_fft=1024, hop_length=256)
    out["stft_mag"] = np.abs(S)
    out["istft"] = librosa.istft(S, hop_length=256, length=y.size)
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=256, n_mels=64)
    out["mel"] = mel
    out["mfcc"] = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13)
    out["mfcc_delta"] = librosa.feature.delta(out["mfcc"])
    out["stack"] = librosa.feature.stack_memory(out["mfcc"], n_steps=3)
    env = librosa.onset.onset_strength(y=y, sr=SR, hop_length=256)
    out["onset_env"] = env
    out["onsets"] = librosa.onset.onset_detect(onset_envelope=env, sr=SR, hop_length=256)
    tempo, beats = librosa.beat.beat_track(onset_envelope=env, sr=SR, hop_length=256)
    out["tempo"] = np.atleast_1d(tempo)
    out["beats"] = beats
    out["zero_crossings"] = librosa.zero_crossings(y[:4096]).astype(np.int64)
    chroma = librosa.feature.chroma_stft(S=np.abs(S) ** 2, sr=SR)
    D, wp = librosa.sequence.dtw(X=chroma[:, :60], Y=chroma[:, 20:90])
    out["dtw_cost"] = D
    out["dtw_path"] = wp
    out["resampled"] = librosa.resample(y, orig_sr=SR, target_sr=16000)
    for name in sorted(out):
        v = np.asarray(out[name], dtype=np.float64)
        print(f"{name}: shape={v.shape} checksum={np.round(float(v.sum()), 3)}")
    return out


if __name__ == "__main__":
    import _results
    _results.save(main())
