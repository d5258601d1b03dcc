//! The local cluster's certificates, made with rcgen: a CA, serving certificates for the API
//! server and the controller manager, an admin client certificate in `system:masters`, and the
//! service-account signing key. All are written once into the state directory.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::ClusterError;

/// The files of the PKI directory.
#[derive(Clone, Debug)]
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn new(dir: PathBuf) -> Pki {
        Pki { dir }
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    pub fn serving_cert(&self) -> PathBuf {
        self.dir.join("serving.crt")
    }
    pub fn serving_key(&self) -> PathBuf {
        self.dir.join("serving.key")
    }
    pub fn admin_cert(&self) -> PathBuf {
        self.dir.join("admin.crt")
    }
    pub fn admin_key(&self) -> PathBuf {
        self.dir.join("admin.key")
    }
    pub fn service_account_key(&self) -> PathBuf {
        self.dir.join("sa.key")
    }
    pub fn service_account_pub(&self) -> PathBuf {
        self.dir.join("sa.pub")
    }

    /// Creates every certificate and key. `addresses` are the extra IP SANs of the serving
    /// certificate (the node's address and the `kubernetes` Service's ClusterIP).
    pub fn generate(&self, addresses: &[Ipv4Addr]) -> Result<(), ClusterError> {
        std::fs::create_dir_all(&self.dir).map_err(ClusterError::io("creating", &self.dir))?;
        let ca_key = KeyPair::generate().map_err(pki_error)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "gatesim local cluster CA");
        ca.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca.self_signed(&ca_key).map_err(pki_error)?;
        write(&self.ca_cert(), &ca_cert.pem())?;
        let issuer = Issuer::new(ca, ca_key);

        // One serving certificate for the API server and the controller manager: both listen
        // on loopback and are reached by address.
        let mut serving = CertificateParams::new(
            [
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ]
            .map(str::to_owned)
            .to_vec(),
        )
        .map_err(pki_error)?;
        serving
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        for address in addresses {
            serving
                .subject_alt_names
                .push(SanType::IpAddress(IpAddr::V4(*address)));
        }
        serving
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        serving.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        serving.use_authority_key_identifier_extension = true;
        let serving_key = KeyPair::generate().map_err(pki_error)?;
        let serving_cert = serving
            .signed_by(&serving_key, &issuer)
            .map_err(pki_error)?;
        write(&self.serving_cert(), &serving_cert.pem())?;
        write(&self.serving_key(), &serving_key.serialize_pem())?;

        // The API server maps O to groups: system:masters may do anything.
        let mut admin = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
        admin
            .distinguished_name
            .push(DnType::CommonName, "gatesim-admin");
        admin
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        admin.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        admin.use_authority_key_identifier_extension = true;
        let admin_key = KeyPair::generate().map_err(pki_error)?;
        let admin_cert = admin.signed_by(&admin_key, &issuer).map_err(pki_error)?;
        write(&self.admin_cert(), &admin_cert.pem())?;
        write(&self.admin_key(), &admin_key.serialize_pem())?;

        let sa_key = KeyPair::generate().map_err(pki_error)?;
        write(&self.service_account_key(), &sa_key.serialize_pem())?;
        write(&self.service_account_pub(), &sa_key.public_key_pem())?;
        Ok(())
    }

    pub fn read(&self, path: &Path) -> Result<String, ClusterError> {
        std::fs::read_to_string(path).map_err(ClusterError::io("reading", path))
    }
}

fn pki_error(e: rcgen::Error) -> ClusterError {
    ClusterError::Pki(e.to_string())
}

fn write(path: &Path, pem: &str) -> Result<(), ClusterError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, pem).map_err(ClusterError::io("writing", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(ClusterError::io("protecting", path))
}
