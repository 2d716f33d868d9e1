"""Project exceptions: each message says what was found, where, what was expected and how to fix it."""


class TaiProjectError(Exception):
    """Base class of every error this project raises on purpose."""


class DataValidationError(TaiProjectError):
    """Input data (images or metadata) break the declared data schema."""


class RequirementsError(TaiProjectError):
    """``trust_requirements.yml`` is not valid."""


class TrustGateError(TaiProjectError):
    """The model missed at least one trust requirement, so it was not promoted."""


class ParameterError(TaiProjectError):
    """A stage parameter (``conf/base/parameters/<stage>.yml``) has an invalid value."""


class IntegrityError(TaiProjectError):
    """A model artifact's SHA-256 differs from the one recorded at registration: refused."""


class RegistryError(TaiProjectError):
    """A registry action (approve, rollback, load) cannot be done as asked."""


class EvidenceError(TaiProjectError):
    """What is about to be registered or promoted is not what the trust gate measured."""


class TrackingStoreError(TaiProjectError):
    """The MLflow tracking store (``mlflow.db``) cannot be used as it is: unreadable, or it
    keeps this project's artifacts outside the project."""
