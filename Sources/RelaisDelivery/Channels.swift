import Crypto
import CurlClient
import RelaisMessages
