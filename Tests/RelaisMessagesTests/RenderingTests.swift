import Testing
import RelaisMessages
