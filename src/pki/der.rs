//! Just enough DER to keep names exact: read a TLV's extent, write a header, and put a CA's
//! subject, byte for byte, as the issuer of a certificate rcgen made, then sign it again.
//!
//! Why: rcgen rebuilds names from a map, which merges repeated attribute types
//! (`OU=Platform,OU=Kubernetes` becomes `OU=Kubernetes`) and cannot express multi-valued RDNs.
//! RFC 5280 path building (OpenSSL, Go) matches a certificate's issuer against its CA's
//! subject as encoded, so anything but the CA's own bytes breaks the chain.

/// The DER could not be walked (a certificate rcgen made always can).
#[derive(Debug, thiserror::Error)]
#[error("malformed DER: {0}")]
pub(crate) struct DerError(&'static str);

/// `(header length, total length)` of the TLV at the start of `der` (definite lengths only,
/// as DER requires).
pub(crate) fn tlv(der: &[u8]) -> Result<(usize, usize), DerError> {
    let first = *der.get(1).ok_or(DerError("truncated header"))?;
    let (header, len) = if first < 0x80 {
        (2, first as usize)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(DerError("unsupported length form"));
        }
        let bytes = der.get(2..2 + n).ok_or(DerError("truncated length"))?;
        (
            2 + n,
            bytes.iter().fold(0usize, |acc, b| acc << 8 | *b as usize),
        )
    };
    let total = header + len;
    if total > der.len() {
        return Err(DerError("length beyond the data"));
    }
    Ok((header, total))
}

/// The elements of a constructed TLV's content, as slices of `content`.
fn elements(mut content: &[u8]) -> Result<Vec<&[u8]>, DerError> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (_, total) = tlv(content)?;
        out.push(&content[..total]);
        content = &content[total..];
    }
    Ok(out)
}

/// A TLV of `tag` around `content`.
pub(crate) fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

const SEQUENCE: u8 = 0x30;
const BIT_STRING: u8 = 0x03;
/// `[0] EXPLICIT Version` at the start of a v3 TBSCertificate.
const VERSION_TAG: u8 = 0xa0;

/// `cert` (a DER Certificate) with its issuer Name replaced by `issuer` (a DER Name) and the
/// TBSCertificate signed again with `sign` (same algorithm as before). Returns `cert`
/// unchanged when the issuer already is `issuer`.
pub(crate) fn with_issuer<E>(
    cert: &[u8],
    issuer: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Result<Vec<u8>, E>, DerError> {
    let (h, total) = tlv(cert)?;
    let parts = elements(&cert[h..total])?;
    let [tbs, alg, _sig] = parts[..] else {
        return Err(DerError("a Certificate has three parts"));
    };
    let (th, _) = tlv(tbs)?;
    let mut fields = elements(&tbs[th..])?;
    // version (optional), serialNumber, signature, issuer, ...
    let at = if fields.first().map(|f| f[0]) == Some(VERSION_TAG) {
        3
    } else {
        2
    };
    if fields.len() <= at {
        return Err(DerError("TBSCertificate without an issuer"));
    }
    if fields[at] == issuer {
        return Ok(Ok(cert.to_vec()));
    }
    fields[at] = issuer;
    let new_tbs = wrap(SEQUENCE, &fields.concat());
    let signature = match sign(&new_tbs) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let mut bits = vec![0u8]; // no unused bits
    bits.extend_from_slice(&signature);
    let body = [new_tbs.as_slice(), alg, &wrap(BIT_STRING, &bits)].concat();
    Ok(Ok(wrap(SEQUENCE, &body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_every_form() {
        for len in [0usize, 1, 127, 128, 255, 256, 65535, 65536] {
            let t = wrap(SEQUENCE, &vec![7u8; len]);
            assert_eq!(tlv(&t).unwrap(), (t.len() - len, t.len()), "len {len}");
        }
    }

    #[test]
    fn truncated_and_overlong_are_errors() {
        assert!(tlv(&[0x30]).is_err());
        assert!(tlv(&[0x30, 0x05, 1, 2]).is_err());
        assert!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
    }
}
